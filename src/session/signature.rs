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

/// The input size a model with dynamic height and width is loaded at, as
/// (height, width): 4:3 landscape at Depth Anything V2's long side (518,
/// both multiples of 14). The engine sets the size its frames need.
pub const PROVISIONAL_SIZE: (usize, usize) = (392, 518);

/// The dimensions of a float32 tensor, `None` where symbolic.
fn float_dims(ty: &ValueType) -> Option<Vec<Option<usize>>> {
    let ValueType::Tensor {
        ty: TensorElementType::Float32,
        shape,
        ..
    } = ty
    else {
        return None;
    };
    shape
        .iter()
        .map(|&d| match usize::try_from(d) {
            Ok(0) => None, // an empty dimension is never usable
            Ok(d) => Some(Some(d)),
            Err(_) => Some(None),
        })
        .collect()
}

fn within_limit(dims: &[usize]) -> bool {
    dims.iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .is_some_and(|v| v <= MAX_TENSOR_VALUES)
}

/// The input's shape, and whether its height and width are free: rank 4,
/// batch 1 or symbolic, a fixed channel dimension of 3 (NCHW or NHWC),
/// height and width both fixed or both symbolic (then at
/// [`PROVISIONAL_SIZE`]).
fn input_shape(ty: &ValueType) -> Option<(Vec<usize>, bool)> {
    let dims = float_dims(ty)?;
    let [batch, a, b, c] = dims.as_slice() else {
        return None;
    };
    if !matches!(batch, None | Some(1)) {
        return None;
    }
    let (h, w) = PROVISIONAL_SIZE;
    let shape = match (*a, *b, *c) {
        (Some(3), Some(h), Some(w)) => (vec![1, 3, h, w], false),
        (Some(h), Some(w), Some(3)) => (vec![1, h, w, 3], false),
        (Some(3), None, None) => (vec![1, 3, h, w], true),
        (None, None, Some(3)) => (vec![1, h, w, 3], true),
        _ => return None,
    };
    within_limit(&shape.0).then_some(shape)
}

/// The output's shape: rank 3 or 4, batch 1 or symbolic. Other symbolic
/// dimensions are allowed only after a dynamic input (`free`); they are
/// read from a run (0 until then).
fn output_shape(ty: &ValueType, free: bool) -> Option<Vec<usize>> {
    let dims = float_dims(ty)?;
    if !(dims.len() == 3 || dims.len() == 4) || !matches!(dims[0], None | Some(1)) {
        return None;
    }
    let shape: Vec<usize> = std::iter::once(Some(1))
        .chain(dims[1..].iter().map(|d| match d {
            Some(d) => Some(*d),
            None if free => Some(0),
            None => None,
        }))
        .collect::<Option<_>>()?;
    (free || within_limit(&shape)).then_some(shape)
}

/// The checked signature: input, output, and whether the input's height and
/// width are free (the output's shape is then read from a run).
pub(super) fn check_signature(
    session: &Session,
    path: &Path,
) -> Result<(TensorInfo, TensorInfo, bool), ModelError> {
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
    const INPUT: &str = "one float32 input of rank 4 ([1,3,H,W] or [1,H,W,3]; the batch may be \
        symbolic, H and W both fixed or both symbolic) of at most 64 Mi values";
    const OUTPUT: &str = "one float32 output of rank 3 or 4 (the batch may be symbolic; other \
        sizes fixed unless the input's are free) of at most 64 Mi values";
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
    let (input_shape, dynamic) = input_shape(input.dtype()).ok_or_else(|| {
        mismatch(
            INPUT,
            format!("{}: {}", input.name(), describe(input.dtype())),
        )
    })?;
    let output_shape = output_shape(output.dtype(), dynamic).ok_or_else(|| {
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
        dynamic,
    ))
}

/// An output shape read from a run, checked as a static one would be.
pub(super) fn check_run_output(shape: &[i64]) -> Option<Vec<usize>> {
    let dims: Vec<usize> = shape
        .iter()
        .map(|&d| usize::try_from(d).ok().filter(|&d| d > 0))
        .collect::<Option<_>>()?;
    ((dims.len() == 3 || dims.len() == 4) && dims[0] == 1 && within_limit(&dims)).then_some(dims)
}
