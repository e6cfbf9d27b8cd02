//! The status line of what runs the model: the provider, its precision,
//! why it is not the one asked for, what Auto's trial measured, and a
//! warning for a model the provider runs little of.

use std::path::Path;

use super::providers::Choice;
use super::{ExecutionProvider, InferencePrecision, SessionOptions};

/// What runs, and why not what was asked for, for the status.
pub(super) fn describe(
    choice: Choice,
    options: &SessionOptions,
    notes: &[String],
    model: &Path,
    trial: Option<&str>,
) -> String {
    let mut text = choice.name();
    let mut details: Vec<String> = Vec::new();
    match choice {
        Choice::Cpu => {
            if !matches!(
                options.precision,
                InferencePrecision::ProviderDefault | InferencePrecision::Fp32
            ) {
                details.push(format!(
                    "{:?} asked for: ONNX Runtime's CPU kernels compute in the model's own precision",
                    options.precision
                ));
            }
        }
        Choice::OpenVino(_) => details.push(match options.precision {
            InferencePrecision::ProviderDefault => {
                "OpenVINO's default precision: BF16 on CPUs that have it, FP16 on GPUs".to_owned()
            }
            other => format!("inference precision {other:?}"),
        }),
        Choice::Builtin(_) => {
            details.push("registered; operators it cannot run fall back to CPU".to_owned())
        }
        Choice::WebGpu => details.push(
            "computes in the model file's precision; operators it cannot run fall back to CPU"
                .to_owned(),
        ),
    }
    #[cfg(any(feature = "coreml", target_os = "ios", target_os = "macos"))]
    if choice == Choice::Builtin(ExecutionProvider::CoreMl) {
        details.push(super::coreml::cache_note(&options.coreml, model));
    }
    let _ = model;
    let asked = options.provider;
    if asked == ExecutionProvider::Auto {
        let chosen = match trial {
            Some(summary) => format!("chosen by Auto's trial, {summary}"),
            None => "chosen by Auto".to_owned(),
        };
        details.push(if notes.is_empty() {
            chosen
        } else {
            format!("{chosen}; skipped: {}", notes.join("; "))
        });
    } else if !notes.is_empty() {
        details.push(notes.join("; "));
    }
    if !details.is_empty() {
        text = format!("{text} ({})", details.join("; "));
    }
    text
}

/// A warning for a provider that runs little of a model of this
/// precision (`mono_depth.precision` metadata): Core ML takes few of a
/// QDQ graph's quantised operators, so an INT8 file runs mostly on the
/// CPU there.
pub(super) fn precision_warning(provider: &str, precision: Option<&str>) -> Option<String> {
    (provider.starts_with("CoreML") && precision == Some("int8")).then(|| {
        "this INT8 (QDQ) model runs mostly on the CPU under Core ML: use the FP16 or FP32 file"
            .to_owned()
    })
}
