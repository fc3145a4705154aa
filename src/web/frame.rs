//! The WebSocket frame-length guard: reads each client frame's header as the bytes arrive and
//! refuses a frame that declares more than [`MAX_CLIENT_FRAME`] bytes before any of its payload
//! is buffered.
//!
//! actix-ws checks its size limit only once a whole frame has arrived, so a header declaring
//! 2^40 bytes followed by a stream of data would be buffered until memory runs out. The guard
//! sits between the connection and actix-ws ([`guard`]): it keeps no payload itself, only the
//! up to 14 bytes of the header it is reading, and ends the stream with an error at the first
//! frame over the limit. The clients of the event stream send nothing but pings, pongs and tiny
//! JSON, so the limit is small. It does not check anything else of the frame (masking, opcodes):
//! actix-ws does.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_util::Stream;

/// Longest frame payload a client may send, in bytes.
pub const MAX_CLIENT_FRAME: usize = 4096;

/// Longest frame header: 2 bytes, a 64-bit length and a 4-byte mask.
const MAX_HEADER: usize = 14;

/// A frame declared more than the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameTooLarge {
    /// The length the frame declared.
    pub declared: u64,
}

/// Where the guard is in the byte stream.
#[derive(Clone, Debug)]
enum Position {
    /// Reading a header: the bytes read so far.
    Header { buf: [u8; MAX_HEADER], have: usize },
    /// Skipping a frame's payload: the bytes still to come.
    Payload { remaining: u64 },
}

/// Follows the frame boundaries of a client's byte stream.
#[derive(Clone, Debug)]
pub struct FrameLimit {
    limit: u64,
    position: Position,
}

impl FrameLimit {
    /// A guard refusing frames over `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            limit: u64::try_from(limit).unwrap_or(u64::MAX),
            position: Position::Header {
                buf: [0; MAX_HEADER],
                have: 0,
            },
        }
    }

    /// Reads the next bytes of the stream. An error is final: the connection must end.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), FrameTooLarge> {
        while !bytes.is_empty() {
            match &mut self.position {
                Position::Payload { remaining } => {
                    let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
                    let skip = (*remaining).min(len);
                    bytes = bytes
                        .get(usize::try_from(skip).unwrap_or(bytes.len())..)
                        .unwrap_or(&[]);
                    *remaining -= skip;
                    if *remaining == 0 {
                        self.position = Position::Header {
                            buf: [0; MAX_HEADER],
                            have: 0,
                        };
                    }
                }
                Position::Header { buf, have } => {
                    let Some((&byte, rest)) = bytes.split_first() else {
                        break;
                    };
                    bytes = rest;
                    if let Some(slot) = buf.get_mut(*have) {
                        *slot = byte;
                    }
                    *have += 1;
                    if let Some((header_len, declared)) = header(buf.get(..*have).unwrap_or(buf)) {
                        if declared > self.limit {
                            return Err(FrameTooLarge { declared });
                        }
                        if *have >= header_len {
                            self.position = if declared == 0 {
                                Position::Header {
                                    buf: [0; MAX_HEADER],
                                    have: 0,
                                }
                            } else {
                                Position::Payload {
                                    remaining: declared,
                                }
                            };
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// The header's full length and the payload length it declares, once the bytes read so far
/// show them (the length is known before the mask has arrived).
fn header(read: &[u8]) -> Option<(usize, u64)> {
    let second = *read.get(1)?;
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    match second & 0x7F {
        126 => {
            let len = u16::from_be_bytes([*read.get(2)?, *read.get(3)?]);
            Some((4 + mask, u64::from(len)))
        }
        127 => {
            let bytes: [u8; 8] = read.get(2..10)?.try_into().ok()?;
            Some((10 + mask, u64::from_be_bytes(bytes)))
        }
        len => Some((2 + mask, u64::from(len))),
    }
}

/// A client's byte stream behind a [`FrameLimit`].
pub struct Guarded<S> {
    inner: S,
    limit: FrameLimit,
    failed: bool,
    tripped: Arc<AtomicBool>,
}

impl<S> Stream for Guarded<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => match self.limit.feed(&bytes) {
                Ok(()) => Poll::Ready(Some(Ok(bytes))),
                Err(FrameTooLarge { declared }) => {
                    self.failed = true;
                    self.tripped.store(true, Ordering::Relaxed);
                    tracing::debug!(
                        "WebSocket client declared a {declared}-byte frame: closing the connection"
                    );
                    Poll::Ready(Some(Err(PayloadError::Overflow)))
                }
            },
            other => other,
        }
    }
}

/// Puts `inner` behind a guard refusing frames over `limit` bytes. The [`Tripwire`] wraps the
/// answer on the same connection.
pub fn guard<S>(inner: S, limit: usize) -> (Guarded<S>, Tripwire) {
    let tripped = Arc::new(AtomicBool::new(false));
    let guarded = Guarded {
        inner,
        limit: FrameLimit::new(limit),
        failed: false,
        tripped: Arc::clone(&tripped),
    };
    (guarded, Tripwire(tripped))
}

/// Set when a guard refused a frame.
pub struct Tripwire(Arc<AtomicBool>);

impl Tripwire {
    /// Puts the connection's outgoing `body` behind a switch that drops the connection once the
    /// guard has refused a frame and the body has ended (after the close frame), instead of
    /// reading on.
    pub fn sever(self, body: BoxBody) -> Severable {
        Severable {
            inner: body,
            tripped: self.0,
        }
    }
}

/// A WebSocket's outgoing body that ends in an error (so the server drops the connection at
/// once, unread data and all) when its guard refused a frame.
pub struct Severable {
    inner: BoxBody,
    tripped: Arc<AtomicBool>,
}

impl MessageBody for Severable {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.inner.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(None) if self.tripped.load(Ordering::Relaxed) => Poll::Ready(Some(Err(
                "a WebSocket client sent an oversized frame: connection dropped".into(),
            ))),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A masked client frame header declaring `len` bytes (64-bit length form).
    fn header64(len: u64) -> Vec<u8> {
        let mut h = vec![0x81, 0x80 | 127];
        h.extend_from_slice(&len.to_be_bytes());
        h.extend_from_slice(&[1, 2, 3, 4]);
        h
    }

    /// A masked client frame of `payload` (the shortest length form).
    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x81];
        match payload.len() {
            n @ 0..=125 => f.push(0x80 | n as u8),
            n @ 126..=65535 => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&[9, 9, 9, 9]);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn a_huge_declared_length_is_refused_at_the_header() {
        let mut limit = FrameLimit::new(MAX_CLIENT_FRAME);
        // The length is refused before the mask arrives.
        assert_eq!(
            limit.feed(&header64(1 << 40)[..10]),
            Err(FrameTooLarge { declared: 1 << 40 })
        );
    }

    #[test]
    fn frames_at_the_limit_pass_and_one_byte_more_is_refused() {
        let mut limit = FrameLimit::new(100);
        assert_eq!(limit.feed(&frame(&[7; 100])), Ok(()));
        assert_eq!(limit.feed(&frame(b"{\"type\":\"ping\"}")), Ok(()));
        assert_eq!(
            limit.feed(&frame(&[7; 101])),
            Err(FrameTooLarge { declared: 101 })
        );
    }

    #[test]
    fn a_16_bit_length_over_the_limit_is_refused() {
        let mut limit = FrameLimit::new(MAX_CLIENT_FRAME);
        assert_eq!(
            limit.feed(&[0x82, 0x80 | 126, 0xFF, 0xFF]),
            Err(FrameTooLarge { declared: 65535 })
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Small frames cut anywhere pass; the guard never panics on any bytes.
        #[test]
        fn small_frames_pass_however_they_are_cut(
            payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8),
            cuts in prop::collection::vec(1usize..64, 1..20),
        ) {
            let stream: Vec<u8> = payloads.iter().flat_map(|p| frame(p)).collect();
            let mut limit = FrameLimit::new(300);
            let mut rest = stream.as_slice();
            let mut cuts = cuts.iter().cycle();
            while !rest.is_empty() {
                let n = (*cuts.next().unwrap()).min(rest.len());
                prop_assert_eq!(limit.feed(&rest[..n]), Ok(()));
                rest = &rest[n..];
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..16)) {
            let mut limit = FrameLimit::new(MAX_CLIENT_FRAME);
            for chunk in &chunks {
                if limit.feed(chunk).is_err() {
                    break;
                }
            }
        }

        #[test]
        fn any_frame_over_the_limit_is_refused(len in (MAX_CLIENT_FRAME as u64 + 1)..u64::MAX >> 1, ok in prop::collection::vec(any::<u8>(), 0..100)) {
            let mut limit = FrameLimit::new(MAX_CLIENT_FRAME);
            prop_assert_eq!(limit.feed(&frame(&ok)), Ok(()));
            prop_assert_eq!(limit.feed(&header64(len)), Err(FrameTooLarge { declared: len }));
        }
    }
}
