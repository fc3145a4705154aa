//! Speech: announcements rendered to WAV by espeak-ng (offline, any language it has a voice
//! for, ~20 ms a sentence), cached per text, so any TV browser can play them — browsers'
//! own speech synthesis is only a fallback (headless Chromium and many TVs have no voices).
//! Without espeak-ng the displays play the chime only; waitless says so at start.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};

/// Rendered sentences kept in memory.
const CACHE_ENTRIES: usize = 64;

/// Why a sentence could not be spoken.
#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    /// No espeak-ng.
    #[error("no speech engine: install espeak-ng (apt-get install espeak-ng)")]
    Unavailable,
    /// espeak-ng failed.
    #[error("espeak-ng failed: {0}")]
    Failed(String),
}

type Key = (String, String);
/// Rendered WAVs by (voice, text), and their order of arrival (oldest first out).
type Cache = (HashMap<Key, Arc<[u8]>>, VecDeque<Key>);

/// The speech engine with its cache.
#[derive(Debug)]
pub struct Speech {
    program: Option<String>,
    cache: Mutex<Cache>,
}

impl Speech {
    /// Finds `program` (`espeak-ng`); an empty name or a missing program means no voice.
    pub fn new(program: &str) -> Self {
        let found = !program.is_empty()
            && Command::new(program)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if !program.is_empty() && !found {
            tracing::warn!(
                "{program} not found: the displays will play the chime without a voice — \
                 install it with `apt-get install espeak-ng`, or set voice.espeak = \"\" to silence this"
            );
        }
        Self {
            program: found.then(|| program.to_owned()),
            cache: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    /// Whether announcements can be spoken.
    pub fn available(&self) -> bool {
        self.program.is_some()
    }

    /// `text` spoken by `voice`, as WAV. Blocks (runs espeak-ng): call it off the async threads.
    pub fn render(&self, voice: &str, text: &str) -> Result<Arc<[u8]>, SpeechError> {
        let program = self.program.as_ref().ok_or(SpeechError::Unavailable)?;
        let key = (voice.to_owned(), text.to_owned());
        if let Some(wav) = self.lock().0.get(&key) {
            return Ok(Arc::clone(wav));
        }
        // The text goes in on stdin, never as an argument: a room name cannot become an option.
        let mut child = Command::new(program)
            .args(["-v", voice, "--stdout"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| SpeechError::Failed(e.to_string()))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(text.as_bytes())
                .map_err(|e| SpeechError::Failed(e.to_string()))?;
        }
        let output = child
            .wait_with_output()
            .map_err(|e| SpeechError::Failed(e.to_string()))?;
        if !output.status.success() || output.stdout.len() < 44 {
            return Err(SpeechError::Failed(
                String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            ));
        }
        let wav: Arc<[u8]> = output.stdout.into();
        let mut cache = self.lock();
        if cache.1.len() >= CACHE_ENTRIES
            && let Some(old) = cache.1.pop_front()
        {
            cache.0.remove(&old);
        }
        cache.1.push_back(key.clone());
        cache.0.insert(key, Arc::clone(&wav));
        Ok(wav)
    }

    /// Plays a WAV on this machine's audio output (`aplay`) and waits for it to end.
    pub fn play_blocking(wav: &[u8]) {
        let child = Command::new("aplay")
            .arg("-q")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match child {
            Ok(mut child) => {
                if let Some(mut stdin) = child.stdin.take() {
                    let _ = stdin.write_all(wav);
                }
                let _ = child.wait();
            }
            Err(e) => tracing::warn!("cannot play an announcement with aplay: {e}"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_means_no_voice_not_a_failure() {
        let speech = Speech::new("/nonexistent/espeak-ng");
        assert!(!speech.available());
        assert!(matches!(
            speech.render("en", "Token A 1"),
            Err(SpeechError::Unavailable)
        ));
    }

    #[test]
    fn espeak_renders_a_wav_when_installed() {
        let speech = Speech::new("espeak-ng");
        if !speech.available() {
            // .ci/run installs espeak-ng; a developer machine without it tests the fallback above.
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must install espeak-ng"
            );
            return;
        }
        let wav = speech
            .render("en", "Token A 42, please go to Room 2")
            .unwrap();
        assert_eq!(&wav[..4], b"RIFF");
        assert!(wav.len() > 16_000, "{} bytes", wav.len());
        let again = speech
            .render("en", "Token A 42, please go to Room 2")
            .unwrap();
        assert!(Arc::ptr_eq(&wav, &again), "cached");
    }
}
