//! Loading a session for `Auto` by its trial ([`super::AutoTrial`]): the
//! cached decision when there is one, else every candidate built, timed and
//! compared with the CPU's FP32 output, keeping only the winner's session.

use std::path::PathBuf;
use std::time::Instant;

use super::signature::check_signature;
use super::trial::{self, TrialCandidate, TrialReport};
use super::{Build, DepthSession, ModelError, SessionOptions, build, providers, trial_cache};
use crate::runtime::Runtime;

impl DepthSession {
    /// `Auto` by measurement ([`super::AutoTrial`]): a cached decision when the
    /// cache has one for this machine, model and options, else every
    /// candidate timed against the CPU's FP32 output.
    pub(super) fn load_by_trial(
        runtime: &Runtime,
        path: PathBuf,
        options: &SessionOptions,
        choices: &[providers::Choice],
        mut notes: Vec<String>,
    ) -> Result<Self, ModelError> {
        let started = Instant::now();
        let settings = &options.auto;
        let files = if settings.lower_precision_files {
            trial::lower_precision_files(&path)
        } else {
            Vec::new()
        };
        let candidates = trial::candidates(choices, options.precision, &files);
        let file_of = |c: trial::Candidate| c.file.path(&path);
        let with = |c: trial::Candidate| SessionOptions {
            precision: c.precision,
            ..options.clone()
        };
        let key = trial_cache::key(runtime, &path, options, &candidates).map_err(|e| {
            ModelError::Unreadable {
                path: path.clone(),
                reason: e.to_string(),
            }
        })?;
        let file = settings.cache.file();
        if let Some(mut report) = file.as_deref().and_then(|f| trial_cache::cached(f, &key)) {
            let winner = candidates.get(report.winner).copied().filter(|c| {
                report
                    .candidates
                    .get(report.winner)
                    .is_some_and(|r| r.name == c.name())
            });
            if let Some(candidate) = winner {
                match build(
                    runtime,
                    &with(candidate),
                    candidate.choice,
                    &file_of(candidate),
                ) {
                    Ok(session) => {
                        report.cached = true;
                        report.took = started.elapsed();
                        return Self::finish(
                            session,
                            candidate.choice,
                            &with(candidate),
                            &notes,
                            file_of(candidate),
                            Some(report),
                        );
                    }
                    Err(e) => notes.push(format!(
                        "the cached winner {} failed, measuring again: {e}",
                        candidate.name()
                    )),
                }
            }
        }

        let deadline = started + settings.budget;
        let tolerance = f64::from(settings.tolerance);
        let reference = candidates[0];
        let mut session = match build(runtime, &with(reference), reference.choice, &path) {
            Ok(session) => session,
            Err(Build::Register(reason) | Build::Commit(reason)) => {
                return Err(ModelError::Invalid {
                    path: path.clone(),
                    reason,
                });
            }
        };
        let (input, _, _) = check_signature(&session, &path)?;
        let pattern = trial::trial_input(input.len());
        let (reference_out, ms) = trial::measure(
            &mut session,
            &input.shape,
            &pattern,
            settings.runs,
            deadline,
        )
        .map_err(ModelError::Runtime)?;
        let mut measured = vec![TrialCandidate {
            name: reference.name(),
            ms,
            deviation: Some(0.0),
            excluded: None,
        }];
        let mut best = (0, session);
        for (i, &candidate) in candidates.iter().enumerate().skip(1) {
            let mut entry = TrialCandidate {
                name: candidate.name(),
                ms: None,
                deviation: None,
                excluded: None,
            };
            let mut session = None;
            if Instant::now() > deadline {
                entry.excluded = Some("not tried: the trial's budget was spent".to_owned());
            } else {
                match build(
                    runtime,
                    &with(candidate),
                    candidate.choice,
                    &file_of(candidate),
                ) {
                    Err(e) => {
                        // Said once per provider, as the fixed order says it.
                        let (short, note) = match &e {
                            Build::Register(why) => (
                                "not available",
                                format!("{}: {why}", candidate.choice.name()),
                            ),
                            Build::Commit(why) => (
                                "refused the model",
                                format!(
                                    "{} refused {}: {why}",
                                    candidate.name(),
                                    file_of(candidate).display()
                                ),
                            ),
                        };
                        entry.excluded = Some(short.to_owned());
                        if !notes.contains(&note) {
                            notes.push(note);
                        }
                    }
                    Ok(mut built) => {
                        match trial::measure(
                            &mut built,
                            &input.shape,
                            &pattern,
                            settings.runs,
                            deadline,
                        ) {
                            Err(e) => entry.excluded = Some(format!("failed to run: {e}")),
                            Ok((out, ms)) => {
                                let deviation = trial::deviation(&out, &reference_out);
                                entry.ms = ms;
                                entry.deviation = Some(deviation);
                                if deviation.is_nan() || deviation > tolerance {
                                    entry.excluded = Some(format!(
                                        "output {deviation:.1e} from the CPU's, over the tolerance {tolerance:.1e}"
                                    ));
                                }
                                session = Some(built);
                            }
                        }
                    }
                }
            }
            measured.push(entry);
            // The rule is `decide`'s alone; only the session it picks is kept.
            if let Some(built) = session
                && trial::decide(&measured, tolerance) == i
            {
                best = (i, built);
            }
        }
        let winner = trial::decide(&measured, tolerance);
        debug_assert_eq!(winner, best.0);
        let report = TrialReport {
            cached: false,
            took: started.elapsed(),
            candidates: measured,
            winner,
        };
        if let Some(file) = &file {
            trial_cache::store(file, &key, &report);
        }
        let candidate = candidates[best.0];
        tracing::info!(
            "{}: Auto chose {}: {}",
            path.display(),
            candidate.name(),
            report.summary()
        );
        Self::finish(
            best.1,
            candidate.choice,
            &with(candidate),
            &notes,
            file_of(candidate),
            Some(report),
        )
    }
}
