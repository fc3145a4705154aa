//! The operator's checks of the machine: `waitless check-config`, `print-test`, `devices list`
//! and `devices learn`.

use std::process::ExitCode;

use crate::config::{Config, ReceiverConfig};
use crate::devices::printer::PrinterUri;

pub fn check_config(config: &Config) -> ExitCode {
    let tls = match crate::tls::check(config) {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("waitless: {e}");
            return ExitCode::from(2);
        }
    };
    // The central URL's password stays off the screen (and out of pasted support requests).
    let mut shown = config.clone();
    shown.central.url = crate::central::redact_url(&config.central.url);
    for secret in [
        &mut shown.notify.smtp_password,
        &mut shown.notify.sms_http_auth,
        &mut shown.notify.sms_http_password,
        &mut shown.notify.webhook_secret,
    ] {
        if !secret.is_empty() {
            *secret = "<hidden>".to_owned();
        }
    }
    match toml::to_string_pretty(&shown) {
        Ok(text) => {
            println!("# configuration OK — effective settings:\n{text}");
            if let Some(tls) = tls {
                println!("# {tls}");
            }
            if let Some(why) = crate::devices::button::gpio_unavailable(&config.gpio) {
                println!(
                    "# note: gpio.buttons/gpio.leds are set, but {why}: they will show as \
                     unavailable"
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("waitless: cannot print the configuration: {e}");
            ExitCode::FAILURE
        }
    }
}

pub fn print_test(config: &Config) -> ExitCode {
    if matches!(config.printer.uri, PrinterUri::Fake | PrinterUri::None) {
        eprintln!(
            "waitless: the printer is \"{}\": there is no printer to print on. Set [printer] uri \
             (docs/hardware.md); a running demo shows its printed tickets at /printer, where \
             \"Print a test ticket\" prints one",
            config.printer.uri
        );
        return ExitCode::from(2);
    }
    println!("printing a test ticket on {} ...", config.printer.uri);
    match crate::devices::printer::print_test(&config.printer) {
        Ok(status) => {
            println!(
                "sent. The printer reports: {}{}",
                status.condition,
                if status.detail.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", status.detail)
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("waitless: {e}");
            ExitCode::FAILURE
        }
    }
}

pub fn devices_list() -> ExitCode {
    let ports = crate::devices::serial::list_ports();
    println!("Serial ports ({}):", ports.len());
    if ports.is_empty() {
        println!("  none found");
    }
    for port in &ports {
        println!("  {}  ({})", port.name, port.kind);
    }
    let inputs = crate::devices::keys::list_input_devices();
    println!("Input devices ({}):", inputs.len());
    if inputs.is_empty() {
        println!(
            "  none found (or no permission to read /dev/input: run as root or join the input group)"
        );
    }
    for device in &inputs {
        println!(
            "  {}  \"{}\"{}{}",
            device.path,
            device.name,
            device
                .stable_path
                .as_ref()
                .map(|p| format!("  {p}"))
                .unwrap_or_default(),
            if device.has_keys { "" } else { "  (no keys)" }
        );
    }
    ExitCode::SUCCESS
}

pub fn devices_learn(
    config: &Config,
    port: Option<String>,
    baud: u32,
    count: Option<usize>,
) -> ExitCode {
    let receiver = match (port, config.serial.receivers.first()) {
        (Some(port), configured) => configured
            .filter(|r| r.port == port)
            .cloned()
            .unwrap_or_else(|| ReceiverConfig::new(port, baud)),
        (None, Some(first)) => first.clone(),
        (None, None) => {
            eprintln!(
                "waitless: no serial receiver is configured: pass --port /dev/ttyUSB0 (and --baud) \
                 or add a [[serial.receivers]] table"
            );
            return ExitCode::from(2);
        }
    };
    println!(
        "listening on {} at {} baud ({}, frames: {}). Press each button in turn; Ctrl-C ends.",
        receiver.port, receiver.baud, receiver.framing, receiver.frame
    );
    println!("# paste these under codes = {{ ... }} of this receiver and fill in room:action");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut out = std::io::stdout();
    match crate::devices::serial::learn(&receiver, &mut out, &stop, count) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("waitless: {e}");
            ExitCode::FAILURE
        }
    }
}
