//! reclassify stage.
