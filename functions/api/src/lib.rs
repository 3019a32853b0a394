//! api stage.
