//! The local admin socket: how `waitless user|token|audit` reach the running server, which holds
//! the database (redb lets one process open it).
//!
//! The server listens on `<data>/admin.sock` (mode 0600, a stale one from a crash is replaced at
//! start, removed at shutdown) and serves only root and its own user: the kernel tells the peer's
//! uid (`SO_PEERCRED`), anyone else gets a refusal and is logged. One connection carries one
//! request and one answer, each a line of JSON: a [`StaffRequest`] (`{"op": "token_list"}`), then
//! a [`ControlReply`] (`{"status": "ok", "answer": {...}}` or `{"status": "error", "code":
//! "...", "message": "..."}`). A request is at most [`MAX_REQUEST_BYTES`] and must arrive within
//! [`READ_TIMEOUT`]; garbage gets an error answer, never a panic.
//!
//! What it owns: the socket file, the peer check, the framing, the client ([`ask`]). What it does
//! not: carrying out the request and recording it ([`crate::staff`]).

use std::io::{BufRead, BufReader, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt,
    BufReader as AsyncBufReader,
};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::auth::Auth;
use crate::engine::EngineHandle;
use crate::staff::{StaffAnswer, StaffRequest};
use crate::store::Store;

/// The socket's file name in the data folder.
pub const SOCKET_FILE: &str = "admin.sock";
/// The longest request line, bytes.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// The longest answer line the client accepts, bytes.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;
/// A request must arrive within this long after connecting.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the client waits for the answer (a password hash takes a moment).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the client waits for a test message (the sender waits 90 s for its transport).
pub const NOTIFY_ANSWER_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the client waits for a backup or an export (a copy of a large database).
pub const LONG_ANSWER_TIMEOUT: Duration = Duration::from_secs(3600);

/// The admin socket of the data folder `data`.
pub fn socket_path(data: &Path) -> PathBuf {
    data.join(SOCKET_FILE)
}

/// Whether a peer of uid `peer` may use the socket of a server running as `server`: root and
/// the server's own user only.
pub fn peer_allowed(peer: u32, server: u32) -> bool {
    peer == 0 || peer == server
}

/// The effective uid of this process.
pub fn effective_uid() -> u32 {
    nix::unistd::Uid::effective().as_raw()
}

/// The second line of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ControlReply {
    /// Done.
    Ok {
        /// What it gave.
        answer: StaffAnswer,
    },
    /// Refused or failed.
    Error {
        /// Stable kebab-case code: `forbidden`, `bad-request`, `unknown-op`, `too-large`,
        /// `timeout`, or a staff error's code (`user-exists`, ...).
        code: String,
        /// What went wrong, for the operator.
        message: String,
    },
}

impl ControlReply {
    fn error(code: &str, message: impl Into<String>) -> Self {
        Self::Error {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// Why a request line is not a request.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Longer than [`MAX_REQUEST_BYTES`].
    #[error("request too large: at most {MAX_REQUEST_BYTES} bytes on one line")]
    TooLarge,
    /// Not sent in time.
    #[error("no request within {} s", READ_TIMEOUT.as_secs())]
    Timeout,
    /// A JSON object with an `op` we do not know.
    #[error("unknown op {0:?}: expected one of {ops}", ops = StaffRequest::OPS.join(", "))]
    UnknownOp(String),
    /// Not JSON, not an object, no `op`, or wrong fields.
    #[error("bad request: {0}")]
    BadRequest(String),
}

impl ProtocolError {
    /// A stable kebab-case code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge => "too-large",
            Self::Timeout => "timeout",
            Self::UnknownOp(_) => "unknown-op",
            Self::BadRequest(_) => "bad-request",
        }
    }
}

/// Parses one request line (without or with its newline).
pub fn parse_request(line: &[u8]) -> Result<StaffRequest, ProtocolError> {
    if line.len() > MAX_REQUEST_BYTES {
        return Err(ProtocolError::TooLarge);
    }
    let value: serde_json::Value = serde_json::from_slice(line)
        .map_err(|e| ProtocolError::BadRequest(format!("not JSON: {e}")))?;
    let op = value
        .get("op")
        .ok_or_else(|| ProtocolError::BadRequest("expected an object with an \"op\"".to_owned()))?
        .as_str()
        .ok_or_else(|| ProtocolError::BadRequest("\"op\" must be a string".to_owned()))?;
    if !StaffRequest::OPS.contains(&op) {
        return Err(ProtocolError::UnknownOp(op.chars().take(40).collect()));
    }
    serde_json::from_value(value).map_err(|e| ProtocolError::BadRequest(e.to_string()))
}

/// Reads one request line of at most [`MAX_REQUEST_BYTES`] within `within`.
pub async fn read_request(
    reader: impl AsyncRead + Unpin,
    within: Duration,
) -> Result<StaffRequest, ProtocolError> {
    let limit = u64::try_from(MAX_REQUEST_BYTES).unwrap_or(u64::MAX) + 1;
    let mut reader = AsyncBufReader::new(reader.take(limit));
    let mut line = Vec::new();
    match tokio::time::timeout(within, reader.read_until(b'\n', &mut line)).await {
        Err(_) => return Err(ProtocolError::Timeout),
        Ok(Err(e)) => return Err(ProtocolError::BadRequest(format!("cannot read: {e}"))),
        Ok(Ok(_)) => {}
    }
    if line.len() > MAX_REQUEST_BYTES {
        return Err(ProtocolError::TooLarge);
    }
    parse_request(&line)
}

/// What the socket's requests are carried out with.
#[derive(Clone, Debug)]
pub struct ControlContext {
    /// Staff users and tokens.
    pub auth: Auth,
    /// The database (the audit check).
    pub store: Arc<Store>,
    /// Records each change.
    pub engine: EngineHandle,
    /// Sends the operator's test message (`notify_test`).
    pub notify: NotifyContext,
}

/// What a `notify_test` request needs: the running senders, the message files, the clinic's
/// name and the default language.
#[derive(Clone, Debug)]
pub struct NotifyContext {
    /// The running senders.
    pub senders: Arc<crate::notify::outbox::Senders>,
    /// The message files.
    pub catalogs: Arc<crate::i18n::Catalogs>,
    /// The queue (the clinic's name).
    pub hub: Arc<crate::hub::Hub>,
    /// `notify.language`.
    pub language: String,
}

/// The running admin socket.
#[derive(Debug)]
pub struct ControlServer {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl ControlServer {
    /// Listens on `path` (replacing a stale socket; the caller holds the database, so no other
    /// server uses it), mode 0600, and serves in a task of the current tokio runtime.
    pub fn start(path: &Path, context: ControlContext) -> std::io::Result<Self> {
        match std::fs::remove_file(path) {
            Ok(()) => tracing::info!("removed a stale admin socket {}", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(
            listener,
            path.to_owned(),
            context,
            effective_uid(),
            stopped,
        ));
        tracing::info!("admin socket: {}", path.display());
        Ok(Self {
            stop: Some(stop),
            task,
        })
    }

    /// Stops taking connections, lets those under way finish (a few seconds at most) and
    /// removes the socket file.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Err(e) = (&mut self.task).await {
            tracing::error!("admin socket task failed: {e}");
        }
    }
}

async fn serve(
    listener: UnixListener,
    path: PathBuf,
    context: ControlContext,
    server_uid: u32,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut conversations = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    conversations.spawn(converse(stream, context.clone(), server_uid));
                }
                Err(e) => {
                    tracing::warn!("admin socket: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = conversations.join_next(), if !conversations.is_empty() => {}
        }
    }
    drop(listener);
    if let Err(e) = std::fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!("cannot remove the admin socket {}: {e}", path.display());
    }
    let drain = async { while conversations.join_next().await.is_some() {} };
    if tokio::time::timeout(READ_TIMEOUT, drain).await.is_err() {
        tracing::warn!("admin socket: a request did not finish in time at shutdown");
        conversations.abort_all();
    }
}

/// One connection: check the peer, read the request, carry it out, answer.
async fn converse(mut stream: UnixStream, context: ControlContext, server_uid: u32) {
    let peer = match stream.peer_cred() {
        Ok(cred) => cred.uid(),
        Err(e) => {
            tracing::warn!("admin socket: cannot tell who connected ({e}): refused");
            return;
        }
    };
    let (read, mut write) = stream.split();
    let reply = if peer_allowed(peer, server_uid) {
        match read_request(read, READ_TIMEOUT).await {
            Ok(request) => answer(&context, request, peer).await,
            Err(e) => {
                tracing::warn!(uid = peer, "admin socket: {e}");
                ControlReply::error(e.code(), e.to_string())
            }
        }
    } else {
        tracing::warn!(
            uid = peer,
            "admin socket: refused a connection from uid {peer}: only root and uid {server_uid} \
             (the user running waitless) may use it"
        );
        ControlReply::error(
            "forbidden",
            format!(
                "permission denied: only root and the user running waitless (uid {server_uid}) \
                 may use the admin socket"
            ),
        )
    };
    if let Err(e) = write_reply(&mut write, &reply).await {
        tracing::debug!(uid = peer, "admin socket: cannot answer: {e}");
    }
}

async fn answer(context: &ControlContext, request: StaffRequest, peer: u32) -> ControlReply {
    let origin = match tokio::task::spawn_blocking(move || crate::staff::cli_origin(peer)).await {
        Ok(origin) => origin,
        Err(e) => return ControlReply::error("internal", e.to_string()),
    };
    let op = serde_json::to_value(&request)
        .ok()
        .and_then(|v| v["op"].as_str().map(str::to_owned))
        .unwrap_or_default();
    tracing::info!(actor = %origin.actor, op, "admin socket request");
    if let StaffRequest::NotifyTest { test } = request {
        return notify_test(&context.notify, test).await;
    }
    match crate::staff::perform_online(
        &context.auth,
        &context.store,
        &context.engine,
        request,
        origin,
    )
    .await
    {
        Ok(answer) => ControlReply::Ok { answer },
        Err(e) => ControlReply::error(e.code(), e.to_string()),
    }
}

/// Sends a test message through the running senders (off the async threads: it waits for the
/// transport).
async fn notify_test(
    notify: &NotifyContext,
    test: crate::notify::build::TestRequest,
) -> ControlReply {
    let notify = notify.clone();
    let sent = tokio::task::spawn_blocking(move || {
        let clinic = notify.hub.read().state.clinic.name.clone();
        crate::notify::build::send_test(
            &notify.senders,
            &notify.catalogs,
            &notify.language,
            &clinic,
            &test,
        )
    })
    .await;
    match sent {
        Ok(Ok((reference, transport))) => ControlReply::Ok {
            answer: StaffAnswer::NotifySent {
                reference,
                transport,
            },
        },
        Ok(Err(e)) => ControlReply::error(e.code(), e.to_string()),
        Err(e) => ControlReply::error("internal", e.to_string()),
    }
}

async fn write_reply(
    write: &mut (impl AsyncWrite + Unpin),
    reply: &ControlReply,
) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(reply).map_err(std::io::Error::other)?;
    line.push(b'\n');
    tokio::time::timeout(READ_TIMEOUT, async {
        write.write_all(&line).await?;
        write.flush().await
    })
    .await
    .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
}

/// Why the command line could not get an answer from the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No server listens there.
    #[error("no running waitless answers on {0}")]
    NotRunning(PathBuf),
    /// The socket (or its folder) is not ours to open.
    #[error(
        "permission denied on the admin socket {0}: run it as root or as the user running \
         waitless (sudo -u waitless waitless ...)"
    )]
    PermissionDenied(PathBuf),
    /// Talking failed.
    #[error("admin socket {path}: {source}")]
    Io {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The server's answer is not one.
    #[error("admin socket {path}: the server's answer is not valid: {message}")]
    BadAnswer {
        /// The socket.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Asks the server listening on `path` to carry out `request` (blocks, for the command line).
pub fn ask(path: &Path, request: &StaffRequest) -> Result<ControlReply, ClientError> {
    let io = |source: std::io::Error| ClientError::Io {
        path: path.to_owned(),
        source,
    };
    let mut stream = std::os::unix::net::UnixStream::connect(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            ClientError::NotRunning(path.to_owned())
        }
        std::io::ErrorKind::PermissionDenied => ClientError::PermissionDenied(path.to_owned()),
        _ => io(e),
    })?;
    stream.set_write_timeout(Some(READ_TIMEOUT)).map_err(io)?;
    let within = match request {
        StaffRequest::Backup | StaffRequest::Export { .. } => LONG_ANSWER_TIMEOUT,
        // The sender waits up to 90 s for the transport.
        StaffRequest::NotifyTest { .. } => NOTIFY_ANSWER_TIMEOUT,
        _ => ANSWER_TIMEOUT,
    };
    stream.set_read_timeout(Some(within)).map_err(io)?;
    let mut line = serde_json::to_vec(request).map_err(|e| io(std::io::Error::other(e)))?;
    line.push(b'\n');
    stream.write_all(&line).map_err(io)?;
    stream.flush().map_err(io)?;
    let limit = u64::try_from(MAX_ANSWER_BYTES).unwrap_or(u64::MAX);
    let mut reader = BufReader::new(std::io::Read::take(stream, limit));
    let mut answer = Vec::new();
    reader.read_until(b'\n', &mut answer).map_err(io)?;
    let reply: ControlReply =
        serde_json::from_slice(&answer).map_err(|e| ClientError::BadAnswer {
            path: path.to_owned(),
            message: if answer.is_empty() {
                "it closed the connection without one".to_owned()
            } else {
                e.to_string()
            },
        })?;
    if let ControlReply::Error { code, .. } = &reply
        && code == "forbidden"
    {
        return Err(ClientError::PermissionDenied(path.to_owned()));
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_root_and_the_server_user_are_allowed() {
        assert!(peer_allowed(0, 998));
        assert!(peer_allowed(998, 998));
        assert!(!peer_allowed(1000, 998));
        assert!(!peer_allowed(65534, 998));
        // A server running as root serves root only.
        assert!(peer_allowed(0, 0));
        assert!(!peer_allowed(1000, 0));
    }

    #[test]
    fn requests_parse_from_one_json_line() {
        assert_eq!(
            parse_request(b"{\"op\":\"token_list\"}\n"),
            Ok(StaffRequest::TokenList)
        );
        assert_eq!(
            parse_request(br#"{"op":"token_revoke","id":"abc"}"#),
            Ok(StaffRequest::TokenRevoke {
                id: "abc".to_owned()
            })
        );
    }

    #[test]
    fn garbage_is_a_bad_request() {
        for garbage in [
            &b""[..],
            b"\n",
            b"hello\n",
            b"\xff\xfe\x00\n",
            b"[1,2,3]\n",
            b"{}\n",
            b"{\"op\": 7}\n",
            b"{\"op\":\"token_revoke\"}\n",
            b"{\"op\":\"token_create\",\"name\":\"x\",\"role\":\"janitor\"}\n",
            b"{\"op\":\"user_add\",\"name\":\"a\",\"password\":\"p\",\"roles\":[],\"x\":1}\n",
        ] {
            let err = parse_request(garbage).unwrap_err();
            assert_eq!(err.code(), "bad-request", "{garbage:?}: {err}");
        }
    }

    #[test]
    fn unknown_op_is_named() {
        let err = parse_request(b"{\"op\":\"drop_tables\"}\n").unwrap_err();
        assert_eq!(err, ProtocolError::UnknownOp("drop_tables".to_owned()));
        assert_eq!(err.code(), "unknown-op");
        assert!(err.to_string().contains("token_create"), "{err}");
    }

    #[test]
    fn oversize_line_is_refused() {
        let mut line = b"{\"op\":\"token_list\",\"pad\":\"".to_vec();
        line.extend(std::iter::repeat_n(b'x', MAX_REQUEST_BYTES));
        line.extend(b"\"}\n");
        assert_eq!(parse_request(&line), Err(ProtocolError::TooLarge));
    }

    #[tokio::test]
    async fn reading_stops_at_the_limit_and_the_deadline() {
        // A line far larger than the limit, without a newline: read at most limit + 1 bytes.
        let huge = vec![b'x'; MAX_REQUEST_BYTES * 4];
        assert_eq!(
            read_request(&huge[..], READ_TIMEOUT).await,
            Err(ProtocolError::TooLarge)
        );
        // One line, then more: only the first counts.
        let two = b"{\"op\":\"user_list\"}\n{\"op\":\"token_list\"}\n";
        assert_eq!(
            read_request(&two[..], READ_TIMEOUT).await,
            Ok(StaffRequest::UserList)
        );
        // A client that connects and says nothing.
        let (_client, server) = tokio::io::duplex(64);
        assert_eq!(
            read_request(server, Duration::from_millis(20)).await,
            Err(ProtocolError::Timeout)
        );
    }

    #[test]
    fn replies_have_a_status_tag() {
        let reply = ControlReply::error("unknown-op", "no");
        assert_eq!(
            serde_json::to_value(&reply).unwrap(),
            serde_json::json!({"status": "error", "code": "unknown-op", "message": "no"})
        );
    }
}
