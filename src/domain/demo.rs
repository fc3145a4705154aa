//! The demo clinic an empty database starts with, so the first run shows a working queue.

use std::collections::BTreeMap;

use super::{Clinic, DomainError, Room, RoomId, Service, ServiceId, ServiceTimes};

/// Two services and three rooms: two doctors for general OPD, one of whom also draws blood
/// samples, and the lab's own counter.
pub fn demo_clinic() -> Result<(Clinic, Vec<Service>, Vec<Room>), DomainError> {
    let hindi = |name: &str| BTreeMap::from([("hi".to_owned(), name.to_owned())]);
    let service =
        |id: &str, name: &str, hi: &str, prefix: &str, order: u8| -> Result<Service, DomainError> {
            Ok(Service {
                order: Some(order.into()),
                tone: Some(order),
                icon: None,
                ask_priority: true,
                id: ServiceId::parse(id)?,
                name: name.to_owned(),
                prefix: prefix.to_owned(),
                active: true,
                carry_over: false,
                names: hindi(hi),
                reopens_at: None,
            })
        };
    let general = service("general", "General OPD", "सामान्य ओपीडी", "A", 0)?;
    let lab = service("lab", "Laboratory", "प्रयोगशाला", "L", 1)?;
    let room = |id: &str,
                name: &str,
                hi: &str,
                order: u32,
                serves: &[&Service]|
     -> Result<Room, DomainError> {
        Ok(Room {
            order: Some(order),
            id: RoomId::parse(id)?,
            name: name.to_owned(),
            names: hindi(hi),
            services: serves.iter().map(|s| s.id.clone()).collect(),
            open: true,
            paused: false,
            serving: None,
            last_next: None,
            stats: ServiceTimes::default(),
        })
    };
    let rooms = vec![
        room("room-1", "Room 1", "कमरा 1", 0, &[&general])?,
        room("room-2", "Room 2", "कमरा 2", 1, &[&general, &lab])?,
        room("lab", "Lab counter", "लैब काउंटर", 2, &[&lab])?,
    ];
    let clinic = Clinic {
        name: "Sunrise Clinic (demo)".to_owned(),
        message: String::new(),
        kiosk: super::KioskSettings::default(),
        pairing_required: false,
    };
    Ok((clinic, vec![general, lab], rooms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::clinic::check_prefix;

    #[test]
    fn demo_clinic_has_two_services_and_three_rooms_all_valid() {
        let (clinic, services, rooms) = demo_clinic().unwrap();
        assert!(!clinic.name.is_empty());
        assert_eq!(services.len(), 2);
        assert_eq!(rooms.len(), 3);
        for s in &services {
            check_prefix(&s.prefix).unwrap();
        }
        for r in &rooms {
            assert!(!r.services.is_empty());
        }
    }
}
