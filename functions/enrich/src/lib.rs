//! enrich stage.
