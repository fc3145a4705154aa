//! Robustness property tests for every parser that reads bytes from outside the process: the
//! serial receivers' settings and code bindings, printer addresses, the ESC/POS status replies,
//! the admin socket's request lines and the configuration file's text. Arbitrary input never
//! panics; what a parser accepts is well-formed, and parsing changes nothing. (The serial byte
//! stream's decoder has its own in `devices/serial/framing.rs`; WebSocket frames and client
//! messages theirs in `web/frame.rs` and `web/ws.rs`.)

use std::str::FromStr;

use proptest::prelude::*;

use crate::config::Config;
use crate::control::{ProtocolError, parse_request};
use crate::devices::printer::PrinterState;
use crate::devices::spec::{FrameKind, Framing, MAX_CODE_LEN, PrinterUri};
use crate::devices::{Binding, InputAction};
use crate::staff::StaffRequest;

/// Text that is mostly near the grammar, sometimes anything.
fn near(grammar: &'static str) -> BoxedStrategy<String> {
    prop_oneof![
        grammar,
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..64)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn serial_settings_and_bindings_never_panic(
        frame in near("(?i)(line|fixed: ?[0-9]{1,4})"),
        framing in near("[0-9][NEOneo][0-9]"),
        binding in near("[a-z_ -]{0,12}(:[a-z0-9-]{0,10})?"),
        action in near("[a-z_ -]{0,12}"),
    ) {
        if let Ok(FrameKind::Fixed(n)) = FrameKind::from_str(&frame) {
            prop_assert!((1..=MAX_CODE_LEN).contains(&n));
        }
        if let Ok(parsed) = Framing::from_str(&framing) {
            // what is accepted reads back the same
            prop_assert_eq!(Framing::from_str(&parsed.to_string()).ok(), Some(parsed));
        }
        let _ = Binding::from_str(&binding);
        let _ = InputAction::from_str(&action);
    }

    #[test]
    fn printer_addresses_never_panic(uri in near("(tcp|serial|usb|file)://[a-z0-9./:@-]{0,30}")) {
        let _ = PrinterUri::parse(&uri);
    }

    /// Any three status bytes (or none answered) give a state; never a panic.
    #[test]
    fn escpos_status_replies_never_panic(
        printer in any::<u8>(),
        cause in any::<Option<u8>>(),
        paper in any::<Option<u8>>(),
    ) {
        let state = PrinterState::from_bytes(printer, cause, paper);
        prop_assert!(!state.condition().is_empty());
        prop_assert_eq!(PrinterState::from_bytes(printer, cause, paper), state);
    }

    /// Any request line is refused with a code or is a known op; the line is only read.
    #[test]
    fn control_socket_request_lines_never_panic(
        line in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            near(r#"\{"op": ?"[a-z_-]{0,16}"(, ?"[a-z_]{1,8}": ?("[^"]{0,10}"|[0-9]{1,5}|null|\[\]))*\}"#)
                .prop_map(String::into_bytes),
        ],
    ) {
        let copy = line.clone();
        match parse_request(&line) {
            Ok(request) => {
                let op = serde_json::to_value(&request).map(|v| v["op"].clone());
                let op = op.ok().and_then(|op| op.as_str().map(str::to_owned));
                prop_assert!(op.is_some_and(|op| StaffRequest::OPS.contains(&op.as_str())));
            }
            Err(e) => prop_assert!(matches!(
                e,
                ProtocolError::TooLarge | ProtocolError::UnknownOp(_) | ProtocolError::BadRequest(_)
            ), "{e:?}"),
        }
        prop_assert_eq!(line, copy);
    }

    /// Any configuration text either parses (and then validates or says why not) or is
    /// refused; never a panic.
    #[test]
    fn configuration_text_never_panics(
        text in prop_oneof![
            any::<String>(),
            near(r#"(\[(http|queue|screens|printer|serial|store|tls)\]
)?([a-z_]{1,20} = ("[^"\\]{0,20}"|-?[0-9]{1,12}|true|false|\[\])
){0,4}"#),
        ],
    ) {
        if let Ok(config) = toml::from_str::<Config>(&text) {
            let _ = config.validate();
        }
    }
}
