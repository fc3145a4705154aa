//! The central check of each site's hash chain (`waitless central verify URL [--site S]`).
//!
//! Every central row carries the event's stored bytes and both links, so PostgreSQL itself
//! recomputes the chain the box wrote (`hash = SHA-256(prev_hash || body)`, see
//! `crate::store::chain`): one pass over each site's rows in seq order, reporting a gap (rows
//! missing), a row whose `prev_hash` is not the hash of the row before it, a row whose body or
//! hash no longer match, and a tail cut off before the seq the site last reported. What it
//! cannot see: a rewrite of a site's whole chain from some row to its end, hashes included —
//! compare the head with the box's (`waitless audit verify` prints it).

use serde::Serialize;

use super::CentralError;

/// What is wrong at one row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// Rows are missing before this one.
    Gap,
    /// Its `prev_hash` is not the stored hash of the row before it.
    PrevHash,
    /// Its body or its hash was changed: `SHA-256(prev_hash || body) != hash`.
    Hash,
    /// Rows are missing at the end: the site reported a later seq.
    Truncated,
}

impl Fault {
    fn parse(s: &str) -> Self {
        match s {
            "gap" => Self::Gap,
            "prev-hash" => Self::PrevHash,
            _ => Self::Hash,
        }
    }

    /// What it means, for a person.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Gap => "events are missing before this one",
            Self::PrevHash => "its previous hash does not match the event before it",
            Self::Hash => "its body or its hash was changed",
            Self::Truncated => "events are missing at the end (the site sent later ones)",
        }
    }
}

/// One fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainFault {
    /// The row.
    pub seq: u64,
    /// What is wrong.
    pub fault: Fault,
}

/// What the check found for one site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainFinding {
    /// The site.
    pub site: String,
    /// Rows stored.
    pub events: u64,
    /// The highest seq stored.
    pub last_seq: u64,
    /// The faults, in seq order (at most 1000).
    pub faults: Vec<ChainFault>,
}

impl ChainFinding {
    /// Whether the site's chain is whole.
    pub fn is_ok(&self) -> bool {
        self.faults.is_empty()
    }
}

impl std::fmt::Display for ChainFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.faults.first() {
            None => write!(
                f,
                "site {}: chain intact, {} events, last seq {}",
                self.site, self.events, self.last_seq
            ),
            Some(first) => {
                write!(
                    f,
                    "site {}: chain BROKEN at event {}: {} ({} faults; {} events, last seq {})",
                    self.site,
                    first.seq,
                    first.fault.describe(),
                    self.faults.len(),
                    self.events,
                    self.last_seq
                )?;
                for fault in self.faults.iter().skip(1).take(9) {
                    write!(f, "\n  event {}: {}", fault.seq, fault.fault.describe())?;
                }
                Ok(())
            }
        }
    }
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Checks the chain of `site` (or of every site).
pub async fn verify(
    client: &tokio_postgres::Client,
    site: Option<&str>,
) -> Result<Vec<ChainFinding>, CentralError> {
    super::schema::check(client).await?;
    let sites = client
        .query(
            "SELECT s.site, s.last_seq, count(e.seq), coalesce(max(e.seq), 0)
             FROM waitless.sites s LEFT JOIN waitless.events e USING (site)
             WHERE $1::text IS NULL OR s.site = $1
             GROUP BY s.site, s.last_seq ORDER BY s.site",
            &[&site],
        )
        .await?;
    let mut findings = Vec::with_capacity(sites.len());
    for row in sites {
        let name: String = row.try_get(0)?;
        let reported: i64 = row.try_get(1)?;
        let events: i64 = row.try_get(2)?;
        let last: i64 = row.try_get(3)?;
        let faults = client
            .query(
                "SELECT seq, fault FROM (
                     SELECT seq, CASE
                         WHEN seq <> coalesce(lag(seq) OVER w, 0) + 1 THEN 'gap'
                         WHEN prev_hash <> coalesce(lag(hash) OVER w, decode(repeat('00', 32), 'hex'))
                             THEN 'prev-hash'
                         WHEN sha256(prev_hash || convert_to(body, 'UTF8')) <> hash THEN 'hash'
                     END AS fault
                     FROM waitless.events WHERE site = $1
                     WINDOW w AS (ORDER BY seq)
                 ) f
                 WHERE fault IS NOT NULL ORDER BY seq LIMIT 1000",
                &[&name],
            )
            .await?;
        let mut found = Vec::with_capacity(faults.len());
        for f in faults {
            found.push(ChainFault {
                seq: to_u64(f.try_get(0)?),
                fault: Fault::parse(f.try_get(1)?),
            });
        }
        if reported > last {
            found.push(ChainFault {
                seq: to_u64(last) + 1,
                fault: Fault::Truncated,
            });
        }
        findings.push(ChainFinding {
            site: name,
            events: to_u64(events),
            last_seq: to_u64(last),
            faults: found,
        });
    }
    Ok(findings)
}
