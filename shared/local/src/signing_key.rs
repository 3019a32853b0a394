//! The local audit signing key: generated once into the data directory (owner-only file)
//! when `VIGIL_AUDIT_SIGNING_KEY` is not set, so checkpoints stay verifiable across runs.
use std::io::Write;
use std::path::Path;

use vigil_shared::audit::CheckpointSigner;

use super::LocalError;

pub const FILE: &str = "audit-signing.key";

pub fn load_or_create(dir: &Path) -> Result<CheckpointSigner, LocalError> {
    let path = dir.join(FILE);
    let fail = |reason: String| LocalError::AuditKey {
        path: path.clone(),
        reason,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => CheckpointSigner::from_base64(&text).map_err(|e| fail(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let signer = CheckpointSigner::generate();
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&path).map_err(|e| fail(e.to_string()))?;
            f.write_all(signer.to_base64().as_bytes())
                .map_err(|e| fail(e.to_string()))?;
            tracing::info!(path = %path.display(), public_key = %signer.public_key(), "generated the local audit signing key");
            Ok(signer)
        }
        Err(e) => Err(fail(e.to_string())),
    }
}
