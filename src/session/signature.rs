//! What a depth model's tensors must look like, and the check at load.

use std::path::Path;

use ort::session::Session;
use ort::value::{TensorElementType, ValueType};

use super::ModelError;

/// Name, element type and fixed shape of one model input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Name in the graph.
    pub name: String,
    /// Dimensions (all fixed, all positive).
    pub shape: Vec<usize>,
}

/// The most values a model input or output may hold (64 Mi floats, 256 MiB):
/// a model that declares more is refused before anything is allocated.
pub const MAX_TENSOR_VALUES: usize = 1 << 26;

impl TensorInfo {
    /// Number of values in the tensor (saturating: a shape whose product
    /// overflows reports `usize::MAX`).
    pub fn len(&self) -> usize {
        self.shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .unwrap_or(usize::MAX)
    }

    /// Whether the tensor holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn describe(ty: &ValueType) -> String {
    ty.to_string()
}

/// The shape of a float32 tensor with fixed sizes. A symbolic first
/// dimension (the batch, as PyTorch exports it by default) is taken as 1; any
/// other symbolic or empty dimension, or more than [`MAX_TENSOR_VALUES`]
/// values, gives `None`.
fn fixed_float_shape(ty: &ValueType) -> Option<Vec<usize>> {
    let ValueType::Tensor {
        ty: TensorElementType::Float32,
        shape,
        ..
    } = ty
    else {
        return None;
    };
    let dims: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| match usize::try_from(d) {
            Ok(d) if d > 0 => Some(d),
            Err(_) if i == 0 => Some(1), // symbolic batch
            _ => None,
        })
        .collect::<Option<_>>()?;
    let values = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d))?;
    (values <= MAX_TENSOR_VALUES).then_some(dims)
}

pub(super) fn check_signature(
    session: &Session,
    path: &Path,
) -> Result<(TensorInfo, TensorInfo), ModelError> {
    let mismatch = |expected: &str, found: String| ModelError::UnexpectedSignature {
        path: path.to_path_buf(),
        expected: expected.to_owned(),
        found,
    };
    let list = |outlets: &[ort::value::Outlet]| {
        outlets
            .iter()
            .map(|o| format!("{}: {}", o.name(), describe(o.dtype())))
            .collect::<Vec<_>>()
            .join(", ")
    };
    const INPUT: &str = "one float32 input of rank 4 with fixed sizes ([1,3,H,W] or [1,H,W,3]; \
        the batch may be symbolic) of at most 64 Mi values";
    const OUTPUT: &str = "one float32 output of rank 3 or 4 with fixed sizes (the batch may be \
        symbolic) of at most 64 Mi values";
    let [input] = session.inputs() else {
        return Err(mismatch(
            INPUT,
            format!(
                "{} inputs ({})",
                session.inputs().len(),
                list(session.inputs())
            ),
        ));
    };
    let [output] = session.outputs() else {
        return Err(mismatch(
            OUTPUT,
            format!(
                "{} outputs ({})",
                session.outputs().len(),
                list(session.outputs())
            ),
        ));
    };
    let input_shape = fixed_float_shape(input.dtype())
        .filter(|s| s.len() == 4 && s[0] == 1 && (s[1] == 3 || s[3] == 3))
        .ok_or_else(|| {
            mismatch(
                INPUT,
                format!("{}: {}", input.name(), describe(input.dtype())),
            )
        })?;
    let output_shape = fixed_float_shape(output.dtype())
        .filter(|s| (s.len() == 3 || s.len() == 4) && s[0] == 1)
        .ok_or_else(|| {
            mismatch(
                OUTPUT,
                format!("{}: {}", output.name(), describe(output.dtype())),
            )
        })?;
    Ok((
        TensorInfo {
            name: input.name().to_owned(),
            shape: input_shape,
        },
        TensorInfo {
            name: output.name().to_owned(),
            shape: output_shape,
        },
    ))
}
