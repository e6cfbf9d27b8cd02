//! What can be wrong with a model file, or go wrong running it.

use std::path::PathBuf;

/// Errors from loading or running a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The model file does not exist.
    #[error(
        "model file {} not found: run `cargo xtask fetch-model` for FCRN, or point the plugin at an .onnx file",
        .0.display()
    )]
    NotFound(PathBuf),
    /// The model file exists but could not be read.
    #[error("model file {} could not be read: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// ONNX Runtime refused the file (not ONNX, truncated, unsupported ops).
    #[error("{} is not a model ONNX Runtime can load: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What ONNX Runtime said.
        reason: String,
    },
    /// The model's inputs or outputs are not what a depth model needs.
    #[error("{} cannot be used as a depth model: expected {expected}, found {found}", path.display())]
    UnexpectedSignature {
        /// The file.
        path: PathBuf,
        /// What the crate needs.
        expected: String,
        /// What the model has.
        found: String,
    },
    /// The input buffer does not match the model's input size.
    #[error("input has {got} values, the model takes {expected}")]
    InputSize {
        /// Values the model takes.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// ONNX Runtime failed while setting up or running the session.
    #[error("ONNX Runtime error: {0}")]
    Runtime(String),
}
