//! The composition root: opens the store, loads (or seeds) the queue, starts the engine and the
//! hub, serves HTTP, and shuts everything down in order. The only module that knows them all.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpServer};
use anyhow::Context;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::devices::printer::PrinterHandle;
use crate::devices::{DeviceBoard, EnginePresses};
use crate::engine::{Engine, EngineParts, load_or_seed};
use crate::hub::Hub;
use crate::i18n::Catalogs;
use crate::notify::speech::Speech;
use crate::store::{Backing, Store, StoreOptions};
use crate::web::{self, AppState};
use actix_web::web::Data;

/// Binds the configured address and serves until SIGTERM or SIGINT.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&config.bind).with_context(|| {
        format!(
            "cannot listen on {} — is another program using that port? Pick another with --bind \
             (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
            config.bind
        )
    })?;
    run(config, listener, Arc::new(SystemClock), shutdown_signal()).await
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                    _ = ctrl_c => tracing::info!("SIGINT: shutting down"),
                }
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM ({e}); Ctrl-C still works");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Runs waitless on `listener` until `shutdown` resolves: the whole appliance, in-process (the
/// tests call this with a manual clock and a port-0 listener). Must run inside an actix system.
pub async fn run(
    config: Config,
    listener: TcpListener,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    run_on(config, listener, clock, Backing::default(), shutdown).await
}

/// [`run`] with the database's bytes on `backing` (the tests: a disk that fills on demand).
pub async fn run_on(
    config: Config,
    listener: TcpListener,
    clock: Arc<dyn Clock>,
    backing: Backing,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let tls = if config.tls.enabled {
        // A self-signed certificate names the addresses staff type in: the bound one, or the
        // LAN address of a wildcard bind.
        let bound = listener.local_addr()?.ip();
        let addresses: Vec<std::net::IpAddr> = if bound.is_unspecified() {
            lan_address()
                .and_then(|a| a.parse().ok())
                .into_iter()
                .collect()
        } else {
            vec![bound]
        };
        Some(
            crate::tls::prepare(&config, clock.now(), &addresses)
                .context("cannot set up HTTPS ([tls] in the configuration)")?,
        )
    } else {
        None
    };
    let calendar = config.calendar()?;
    let policy = config.policy();
    let path = config.database_path();
    let store = Store::open_on(
        &path,
        &StoreOptions {
            fsync: config.store.fsync,
            cache_bytes: config.store.cache_mib * 1024 * 1024,
        },
        backing,
    )
    .with_context(|| format!("cannot open the database {}", path.display()))?;
    let store = Arc::new(store);
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let folded = store
        .fold_earlier_days(&policy)
        .with_context(|| format!("cannot fold the closed days of {}", path.display()))?;
    if folded > 0 {
        tracing::info!(
            visits = folded,
            "reports: the closed days' visits folded once"
        );
    }
    let (mut books, recent) = load_or_seed(&store, clock.as_ref(), &calendar)
        .with_context(|| format!("cannot load the queue from {}", path.display()))?;
    tracing::info!(
        tickets = books.state.tickets.len(),
        seq = books.seq,
        day = %books.state.day,
        "queue loaded from {}",
        path.display()
    );
    books.notify = config.notify_rules();
    let books_zone = books.zone.clone();
    books.arrival = crate::domain::appointments::Arrival {
        early_minutes: config.appointments.early_minutes,
        late_minutes: config.appointments.late_minutes,
    };
    let hub = Arc::new(Hub::new(
        books.state.clone(),
        books.seq,
        recent,
        policy.clone(),
    ));
    hub.load_appointments(books.appointments.clone());
    let engine = Engine::start(
        EngineParts {
            store: Arc::clone(&store),
            hub: Arc::clone(&hub),
            clock: Arc::clone(&clock),
            calendar,
            policy,
            unwritable_restart: Some(Duration::from_secs(config.store.unwritable_restart_secs))
                .filter(|d| !d.is_zero()),
            on_commit: Some(metrics.commit_observer()),
        },
        books,
    )?;

    let addr = listener.local_addr()?;
    let catalogs = Catalogs::parse(
        web::asset::message_files()
            .iter()
            .map(|(file, text)| (file.as_str(), text.as_str())),
    )
    .context("the message files in assets/i18n are not valid")?;
    for code in config
        .screens
        .languages
        .iter()
        .chain(&config.screens.announce_languages)
    {
        if !catalogs.has(code) {
            anyhow::bail!(
                "screens: there is no language {code:?} — available: {}",
                catalogs
                    .all()
                    .map(|c| c.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let catalogs = Arc::new(catalogs);
    let links = web::link::StatusLinks::new(store.link_secret()?);
    let senders = Arc::new(
        crate::notify::outbox::Senders::start(
            &config.notify,
            &books_zone,
            &store,
            &clock,
            &catalogs,
            message_links(&config.screens.public_url, &links),
        )
        .map_err(anyhow::Error::msg)
        .context("cannot start the notification senders ([notify])")?,
    );
    actix_web::rt::spawn(crate::notify::outbox::wake_on_events(
        Arc::clone(&hub),
        Arc::clone(&senders),
    ));
    let webhook = crate::notify::webhook::Webhook::start(
        &config.notify,
        Arc::clone(&store),
        Arc::clone(&hub),
    )
    .context("cannot start the webhook ([notify] webhook_url)")?;
    let pages = web::template::Pages::load().context("the page templates are not valid")?;
    let speech = Arc::new(Speech::new(&config.voice.espeak));
    if config.voice.appliance_audio {
        if speech.available() {
            actix_web::rt::spawn(crate::notify::announcer::run(
                Arc::clone(&hub),
                Arc::clone(&speech),
                Arc::clone(&catalogs),
                config.screens.announce_languages.clone(),
            ));
        } else {
            tracing::warn!("voice.appliance_audio is on, but there is no voice to play");
        }
    }
    {
        let published = hub.read();
        for room in crate::devices::configured_rooms(&config) {
            if !published.state.rooms.keys().any(|id| id.as_str() == room) {
                tracing::warn!(
                    "the configuration's inputs name room {room:?}, which the clinic does not \
                     have: its presses will be refused until the room is added"
                );
            }
        }
    }
    let auth = crate::auth::Auth::new(Arc::clone(&store), Arc::clone(&clock));
    let screens = crate::auth::screen::Screens::new(Arc::clone(&store), Arc::clone(&clock));
    let setup = web::setup::SetupCode::for_start(&auth)?;
    let devices = Arc::new(DeviceBoard::new());
    let printer = PrinterHandle::start(&config.printer, Arc::clone(&devices))
        .context("cannot start the printer")?;
    let inputs = crate::devices::start_inputs(
        &config,
        Arc::new(EnginePresses::new(engine.handle())),
        Arc::clone(&devices),
        &hub,
    );
    actix_web::rt::spawn(crate::retention::run(
        Arc::clone(&store),
        engine.handle(),
        Arc::clone(&hub),
        Arc::clone(&clock),
        config.store.patient_details_days,
    ));
    let central = crate::central::Shipper::start(
        &config.central,
        Arc::clone(&store),
        Arc::clone(&hub),
        Arc::clone(&clock),
        Arc::clone(&devices),
    )
    .context("cannot start shipping to the central database ([central])")?;
    // The command line reaches the running server here (it cannot open the database).
    let notify = crate::control::NotifyContext {
        senders: Arc::clone(&senders),
        catalogs: Arc::clone(&catalogs),
        hub: Arc::clone(&hub),
        language: config.notify.language.clone(),
    };
    let control = start_control(&config, &auth, &store, &engine, notify);
    let backup = Arc::new(crate::backup::BackupStatus::default());
    let nightly = start_nightly(&config, &store, &clock, &backup)?;
    actix_web::rt::spawn(crate::metrics::follow(
        Arc::clone(&hub),
        Arc::clone(&metrics),
    ));
    let config = Arc::new(config);
    let app_state = Data::new(AppState {
        engine: engine.handle(),
        hub: Arc::clone(&hub),
        store: Arc::clone(&store),
        clock,
        config: Arc::clone(&config),
        started,
        pages,
        catalogs,
        links,
        speech,
        devices,
        printer: printer.clone(),
        auth,
        setup: setup.clone(),
        issue_limit: web::limit::IssueLimiter::default(),
        booking_limit: web::limit::IssueLimiter::default(),
        feedback_limit: web::limit::IssueLimiter::default(),
        phone_codes: web::phone_code::PhoneCodes::default(),
        screens,
        backup,
        senders: Arc::clone(&senders),
        metrics,
        webhook: webhook.as_ref().map(crate::notify::webhook::Webhook::state),
    });
    let max_body = config.http.max_body_bytes;
    let server = HttpServer::new(move || {
        App::new()
            .wrap(web::security::headers())
            .app_data(app_state.clone())
            .configure(|cfg| web::app(cfg, max_body))
    })
    .disable_signals()
    // Small frames (one event) go out at once, not after the client's next ACK.
    .tcp_nodelay(true)
    .shutdown_timeout(config.http.shutdown_timeout_secs);
    let mut server = match &tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls.server.clone()),
        None => server.listen(listener),
    }
    .with_context(|| format!("cannot serve on {addr}"))?;
    if config.http.workers > 0 {
        server = server.workers(config.http.workers);
    }
    let server = server.run();
    let handle = server.handle();
    let serving = actix_web::rt::spawn(server);

    log_urls(
        addr,
        if tls.is_some() { "https" } else { "http" },
        started.elapsed(),
    );
    if let Some(tls) = &tls {
        tracing::info!(
            "HTTPS certificate {}{}, SHA-256 fingerprint {} — staff browsers must trust it: \
             compare this fingerprint with the one they show (docs/security.md, TLS)",
            tls.files.cert.display(),
            if tls.files.self_signed {
                " (self-signed)"
            } else {
                ""
            },
            tls.fingerprint
        );
    }
    // The audit trail is checked in the background: a long log must not delay the start.
    let audited = Arc::clone(&store);
    drop(actix_web::rt::task::spawn_blocking(move || {
        match audited.check_audit_trail() {
            found @ crate::store::AuditCheck::Broken { .. } => tracing::error!(
                "audit trail {found} — the database file was changed behind waitless's back: \
                 run `waitless audit verify` (docs/operations.md, Audit trail)"
            ),
            found => tracing::info!("audit trail checked: {found}"),
        }
        // the walk read the whole log through the allocator: give its pages back
        crate::memory::give_back();
    }));
    notify_service(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&format!("serving on {addr}")),
    ]);
    if let Some(code) = setup.code() {
        tracing::warn!(
            "no admin yet: open /setup on this address and enter the one-time code {code} to \
             create one (or run `waitless user add NAME --role admin`)"
        );
    }

    shutdown.await;
    notify_service(&[sd_notify::NotifyState::Stopping]);
    if let Some(control) = control {
        control.stop().await;
    }
    if let Some((stop, task)) = nightly {
        let _ = stop.send(());
        if let Err(e) = task.await {
            tracing::error!("nightly backup task failed: {e}");
        }
    }
    inputs.stop();
    printer.stop();
    if let Some(central) = central {
        central.stop().await;
    }
    // The senders finish a send under way; what is still queued goes after the next start.
    drop(senders);
    if let Some(webhook) = webhook {
        webhook.stop().await;
    }
    hub.close();
    handle.stop(true).await;
    match serving.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("HTTP server error: {e}"),
        Err(e) => tracing::error!("HTTP server task failed: {e}"),
    }
    // Every command sent before this point is committed before the engine stops.
    actix_web::rt::task::spawn_blocking(move || engine.stop())
        .await
        .context("engine shutdown")?;
    drop(hub);
    close_store(store).await;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Starts the admin socket in the data folder; without it waitless still serves (the command
/// line then asks to stop the server first).
fn start_control(
    config: &Config,
    auth: &crate::auth::Auth,
    store: &Arc<Store>,
    engine: &Engine,
    notify: crate::control::NotifyContext,
) -> Option<crate::control::ControlServer> {
    let path = crate::control::socket_path(&config.data);
    let context = crate::control::ControlContext {
        auth: auth.clone(),
        store: Arc::clone(store),
        engine: engine.handle(),
        notify,
    };
    match crate::control::ControlServer::start(&path, context) {
        Ok(control) => Some(control),
        Err(e) => {
            tracing::warn!(
                "cannot listen on the admin socket {}: {e} — `waitless user|token` will work \
                 only while the server is stopped",
                path.display()
            );
            None
        }
    }
}

/// Starts the nightly backup when `[backup] folder` is set: its stop and its task.
fn start_nightly(
    config: &Config,
    store: &Arc<Store>,
    clock: &Arc<dyn Clock>,
    status: &Arc<crate::backup::BackupStatus>,
) -> anyhow::Result<
    Option<(
        tokio::sync::oneshot::Sender<()>,
        actix_web::rt::task::JoinHandle<()>,
    )>,
> {
    if config.backup.folder.is_empty() {
        return Ok(None);
    }
    let schedule = crate::backup::Schedule {
        folder: config.backup.folder.clone().into(),
        at: config.backup_time()?,
        keep: config.backup.keep,
        tz: config.calendar()?.time_zone().clone(),
    };
    let nightly = crate::backup::Nightly::new(
        Arc::clone(store),
        Arc::clone(clock),
        schedule,
        Arc::clone(status),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = actix_web::rt::spawn(nightly.run(async move {
        let _ = stopped.await;
    }));
    Ok(Some((stop, task)))
}

/// The links messages end with: a ticket's status page, a booking's page, under `public_url`
/// (none when it is not set: a text message needs the whole address).
fn message_links(
    public_url: &str,
    links: &web::link::StatusLinks,
) -> Option<crate::notify::outbox::Links> {
    if public_url.is_empty() {
        return None;
    }
    let base = public_url.trim_end_matches('/').to_owned();
    let links = links.clone();
    Some(Arc::new(
        move |row: &crate::domain::notification::Notification| {
            use crate::domain::notification::NotificationKind as Kind;
            match (row.kind, row.ticket, row.booking) {
                (Kind::Issued | Kind::Transferred, Some(ticket), _) => {
                    Some(format!("{base}{}", links.path(ticket)))
                }
                (Kind::Booked | Kind::Rescheduled | Kind::Reminder, _, Some(booking)) => {
                    Some(format!("{base}/b/{}", links.booking_token(booking)))
                }
                _ => None,
            }
        },
    ))
}

/// Tells systemd (a `Type=notify` unit) how the service is doing: `READY=1` once it serves,
/// `STOPPING=1` at shutdown. A no-op when `NOTIFY_SOCKET` is unset (not run by systemd).
fn notify_service(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!("cannot notify systemd: {e}");
    }
}

/// Closes the database once the last reference is gone. The HTTP workers drop their state (and
/// its reference) on their own threads shortly after the server reports it has stopped, so wait
/// for them, with a deadline.
async fn close_store(mut store: Arc<Store>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Arc::try_unwrap(store) {
            Ok(store) => {
                if let Err(e) = store.close() {
                    tracing::error!("closing the database: {e}");
                }
                return;
            }
            Err(still_shared) if Instant::now() < deadline => {
                store = still_shared;
                actix_web::rt::time::sleep(Duration::from_millis(5)).await;
            }
            Err(_) => {
                tracing::warn!("database still referenced at shutdown; it closes at exit");
                return;
            }
        }
    }
}

/// Logs where the screens are. With a wildcard bind address it guesses the LAN address.
fn log_urls(addr: std::net::SocketAddr, scheme: &str, startup: Duration) {
    let host = if addr.ip().is_unspecified() {
        lan_address().unwrap_or_else(|| "localhost".to_owned())
    } else {
        addr.ip().to_string()
    };
    let base = format!("{scheme}://{host}:{}", addr.port());
    tracing::info!(
        "waitless {} ready in {} ms on {addr}",
        env!("CARGO_PKG_VERSION"),
        startup.as_millis()
    );
    tracing::info!("  kiosk:   {base}/kiosk");
    tracing::info!("  display: {base}/display");
    tracing::info!("  staff:   {base}/staff");
    tracing::info!("  API:     {base}/api/v1/openapi.json");
}

/// The address other machines on the LAN reach us at: the source address the kernel picks for
/// an outside destination. Connecting a UDP socket sends nothing.
fn lan_address() -> Option<String> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then(|| ip.to_string())
}
