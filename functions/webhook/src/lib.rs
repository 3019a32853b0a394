//! webhook stage.
