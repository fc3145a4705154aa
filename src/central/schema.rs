//! The central schema and its versioned migrations, like the local store's
//! (`crate::store::schema`): `waitless.schema_version` lists the versions applied; `init`
//! applies the missing ones in order, each in its own transaction, under an advisory lock (two
//! boxes running `central init` at once do not collide). The shipper only checks the version:
//! it needs INSERT rights, not DDL rights.
//!
//! Tables: `waitless.sites` (one row per site: its last seq received), `waitless.events` (key
//! `(site, seq)`: the event's stored JSON `body`, its chain links `prev_hash` and `hash`, and
//! `at` and `kind` copied out for indexes). Views for reports across sites: `ticket_versions`
//! (every ticket as each event left it), `visits` (each ticket as it stands: issued, called,
//! finished, wait) and `waits_by_hour` (per site, service and hour).

use super::CentralError;

/// The schema version this waitless writes and needs.
pub const CENTRAL_SCHEMA_VERSION: i32 = 1;

/// Migration `n` (index `n - 1`) takes the schema from version `n - 1` to `n`.
const MIGRATIONS: [(&str, &str); 1] = [(
    "events, sites, and the report views",
    r"
CREATE TABLE waitless.sites (
    site        text PRIMARY KEY,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    last_seq    bigint NOT NULL DEFAULT 0,
    version     text NOT NULL DEFAULT ''
);

CREATE TABLE waitless.events (
    site        text NOT NULL REFERENCES waitless.sites (site),
    seq         bigint NOT NULL,
    at          timestamptz NOT NULL,
    kind        text NOT NULL,
    body        text NOT NULL,
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site, seq)
);
CREATE INDEX events_at ON waitless.events (at);
CREATE INDEX events_kind_at ON waitless.events (kind, at);

CREATE VIEW waitless.ticket_versions AS
SELECT e.site, e.seq, e.at, e.kind, t.ticket
FROM waitless.events e
CROSS JOIN LATERAL (
    SELECT e.body::jsonb -> 'ticket' AS ticket
        WHERE e.kind IN ('ticket_issued', 'ticket_recalled', 'ticket_done', 'ticket_no_show',
                         'ticket_cancelled', 'ticket_requeued')
    UNION ALL SELECT e.body::jsonb -> 'called' WHERE e.kind = 'room_next'
    UNION ALL SELECT e.body::jsonb -> 'finished' WHERE e.kind = 'room_next'
    UNION ALL SELECT e.body::jsonb -> 'from' WHERE e.kind = 'ticket_transferred'
    UNION ALL SELECT e.body::jsonb -> 'to' WHERE e.kind = 'ticket_transferred'
    UNION ALL SELECT jsonb_array_elements(e.body::jsonb -> 'closed') WHERE e.kind = 'day_closed'
    UNION ALL SELECT jsonb_array_elements(e.body::jsonb -> 'restored') WHERE e.kind = 'next_undone'
) t
WHERE jsonb_typeof(t.ticket) = 'object';

CREATE VIEW waitless.visits AS
SELECT DISTINCT ON (site, (ticket ->> 'id')::bigint)
    site,
    (ticket ->> 'id')::bigint AS ticket_id,
    ticket ->> 'number' AS number,
    ticket ->> 'service' AS service,
    ticket ->> 'priority' AS priority,
    ticket ->> 'state' AS state,
    (ticket ->> 'day')::date AS day,
    ticket ->> 'room' AS room,
    (ticket ->> 'created_at')::timestamptz AS issued_at,
    (ticket ->> 'called_at')::timestamptz AS called_at,
    (ticket ->> 'finished_at')::timestamptz AS finished_at,
    extract(epoch FROM (ticket ->> 'called_at')::timestamptz
                     - (ticket ->> 'queued_at')::timestamptz)::double precision AS wait_secs
FROM waitless.ticket_versions
ORDER BY site, (ticket ->> 'id')::bigint, seq DESC;

CREATE VIEW waitless.waits_by_hour AS
SELECT site, service, date_trunc('hour', issued_at) AS hour,
    count(*) AS tickets,
    count(called_at) AS called,
    round(avg(wait_secs))::integer AS avg_wait_secs,
    round(percentile_cont(0.9) WITHIN GROUP (ORDER BY wait_secs))::integer AS p90_wait_secs,
    round(max(wait_secs))::integer AS max_wait_secs
FROM waitless.visits
GROUP BY site, service, date_trunc('hour', issued_at);
",
)];

/// Creates the schema or brings it up to [`CENTRAL_SCHEMA_VERSION`]; returns the versions
/// applied (empty: it was current).
pub async fn init(client: &mut tokio_postgres::Client) -> Result<Vec<i32>, CentralError> {
    client
        .batch_execute(
            "CREATE SCHEMA IF NOT EXISTS waitless;
             CREATE TABLE IF NOT EXISTS waitless.schema_version (
                 version     integer PRIMARY KEY,
                 description text NOT NULL,
                 applied_at  timestamptz NOT NULL DEFAULT now()
             );",
        )
        .await?;
    let mut applied = Vec::new();
    for (index, (description, sql)) in MIGRATIONS.iter().enumerate() {
        let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
        let txn = client.transaction().await?;
        txn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('waitless.central.schema'))",
            &[],
        )
        .await?;
        let done = txn
            .query_opt(
                "SELECT 1 FROM waitless.schema_version WHERE version = $1",
                &[&version],
            )
            .await?
            .is_some();
        if done {
            txn.rollback().await?;
            continue;
        }
        txn.batch_execute(sql).await?;
        txn.execute(
            "INSERT INTO waitless.schema_version (version, description) VALUES ($1, $2)",
            &[&version, description],
        )
        .await?;
        txn.commit().await?;
        applied.push(version);
    }
    Ok(applied)
}

/// The schema version of the central database (0: none yet).
pub async fn version(client: &tokio_postgres::Client) -> Result<i32, CentralError> {
    let exists = client
        .query_one(
            "SELECT to_regclass('waitless.schema_version') IS NOT NULL",
            &[],
        )
        .await?
        .try_get::<_, bool>(0)?;
    if !exists {
        return Ok(0);
    }
    let row = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM waitless.schema_version",
            &[],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// Checks that the central schema is the one this waitless writes.
pub async fn check(client: &tokio_postgres::Client) -> Result<(), CentralError> {
    match version(client).await? {
        v if v == CENTRAL_SCHEMA_VERSION => Ok(()),
        v if v > CENTRAL_SCHEMA_VERSION => Err(CentralError::SchemaTooNew {
            found: v,
            known: CENTRAL_SCHEMA_VERSION,
        }),
        v => Err(CentralError::Schema {
            found: v,
            needed: CENTRAL_SCHEMA_VERSION,
        }),
    }
}
