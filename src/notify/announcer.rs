//! The appliance's own voice: with `voice.appliance_audio`, every call is spoken on this
//! machine's audio output (`aplay`), in each announce language, as the displays do.

use std::sync::Arc;

use crate::domain::{EventKind, QueueState, Ticket};
use crate::hub::Hub;
use crate::i18n::Catalogs;
use crate::notify::announce::announcement;
use crate::notify::speech::Speech;

/// The sentences to speak for an event (none for events that call nobody).
pub fn sentences(
    state: &QueueState,
    kind: &EventKind,
    catalogs: &Catalogs,
    languages: &[String],
) -> Vec<(String, String)> {
    let (ticket, recall): (&Ticket, bool) = match kind {
        EventKind::RoomNext {
            called: Some(t), ..
        } => (t, false),
        EventKind::TicketRecalled { ticket, .. } => (ticket, true),
        _ => return Vec::new(),
    };
    let Some(room) = ticket.room.as_ref().and_then(|r| state.rooms.get(r)) else {
        return Vec::new();
    };
    languages
        .iter()
        .filter(|code| catalogs.has(code))
        .map(|code| {
            let catalog = catalogs.get(code);
            (
                catalog.voice.clone(),
                announcement(catalog, recall, &ticket.number, room.name_in(&catalog.code)),
            )
        })
        .collect()
}

/// Speaks every call until the hub closes. Runs as a task; never fails the server.
pub async fn run(
    hub: Arc<Hub>,
    speech: Arc<Speech>,
    catalogs: Arc<Catalogs>,
    languages: Vec<String>,
) {
    let mut events = hub.tail();
    while let Some(event) = events.next().await {
        let sentences = {
            let published = hub.read();
            sentences(&published.state, &event.kind, &catalogs, &languages)
        };
        if sentences.is_empty() {
            continue;
        }
        let speech = Arc::clone(&speech);
        // Spoken one after the other on a blocking thread; a failure is logged, never fatal.
        let spoken = tokio::task::spawn_blocking(move || {
            for (voice, text) in sentences {
                match speech.render(&voice, &text) {
                    Ok(wav) => Speech::play_blocking(&wav),
                    Err(e) => tracing::warn!("cannot speak {text:?}: {e}"),
                }
            }
        })
        .await;
        if let Err(e) = spoken {
            tracing::warn!("announcement task failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Command, Decision, Origin, PriorityClass, RoomId, ServiceId, demo};

    const EN: &str = include_str!("../../assets/i18n/en.toml");
    const HI: &str = include_str!("../../assets/i18n/hi.toml");

    fn decide_apply(state: &mut QueueState, seq: u64, command: Command) -> EventKind {
        let at = jiff::Timestamp::from_second(1_800_000_000 + i64::try_from(seq).unwrap()).unwrap();
        let policy = crate::config::Config::default().policy();
        let Ok(Decision::Event(kind)) = state.decide(&command, &Origin::system(), at, &policy)
        else {
            panic!("{command:?} was refused");
        };
        let event = QueueState::event(seq, at, &Origin::system(), kind.clone());
        state.apply(&event);
        kind
    }

    #[test]
    fn a_call_is_spoken_in_each_language_and_other_events_are_not() {
        let catalogs = Catalogs::parse([("en.toml", EN), ("hi.toml", HI)]).unwrap();
        let (clinic, services, rooms) = demo::demo_clinic().unwrap();
        let mut state = QueueState::new(jiff::civil::date(2027, 1, 15));
        decide_apply_seed(&mut state, clinic, services, rooms);
        let issued = decide_apply(
            &mut state,
            2,
            Command::IssueTicket {
                service: ServiceId::parse("general").unwrap(),
                priority: PriorityClass::Normal,
                idempotency_key: None,
                patient: None,
            },
        );
        let languages = vec!["en".to_owned(), "hi".to_owned()];
        assert!(sentences(&state, &issued, &catalogs, &languages).is_empty());
        let next = decide_apply(
            &mut state,
            3,
            Command::RoomNext {
                room: RoomId::parse("room-2").unwrap(),
            },
        );
        let spoken = sentences(&state, &next, &catalogs, &languages);
        assert_eq!(
            spoken,
            vec![
                ("en".to_owned(), "Token A 1, please go to Room 2".to_owned()),
                ("hi".to_owned(), "टोकन A 1, कृपया कमरा 2 में जाएँ".to_owned()),
            ]
        );
    }

    fn decide_apply_seed(
        state: &mut QueueState,
        clinic: crate::domain::Clinic,
        services: Vec<crate::domain::Service>,
        rooms: Vec<crate::domain::Room>,
    ) {
        let at = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let event = QueueState::event(
            1,
            at,
            &Origin::system(),
            EventKind::ClinicSeeded {
                clinic,
                services,
                rooms,
            },
        );
        state.apply(&event);
    }
}
