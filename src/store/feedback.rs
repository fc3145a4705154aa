//! Patients' feedback comments ([`FEEDBACK_COMMENTS`]): written with their `feedback_given`
//! event, read for the admin's list, deleted by the retention rule with the patients' details.
//! The scores themselves are in the event log (nothing personal); this table holds the free
//! text, which is personal data.

use redb::ReadableTable;

use super::tables::FEEDBACK_COMMENTS;
use super::{Store, StoreError, codec};
use crate::domain::{FeedbackComment, TicketId, Timestamp, Touched};

/// Writes the comment a command gave and deletes the purged ones, in the command's transaction.
pub(super) fn write_rows(
    txn: &redb::WriteTransaction,
    touched: &Touched,
) -> Result<(), StoreError> {
    if touched.feedback_comment.is_none() && touched.feedback_purged.is_empty() {
        return Ok(());
    }
    let mut table = txn.open_table(FEEDBACK_COMMENTS)?;
    if let Some(row) = &touched.feedback_comment {
        table.insert(
            row.ticket.0,
            codec::encode(row, "feedback comment")?.as_slice(),
        )?;
    }
    for ticket in &touched.feedback_purged {
        table.remove(ticket.0)?;
    }
    Ok(())
}

impl Store {
    /// Every feedback comment (unreadable rows are skipped), oldest first.
    fn feedback_rows(&self) -> Result<Vec<(TicketId, Option<FeedbackComment>)>, StoreError> {
        let txn = self.read_txn()?;
        let table = match txn.open_table(FEEDBACK_COMMENTS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for row in table.iter()? {
            let (k, v) = row?;
            out.push((
                TicketId(k.value()),
                codec::decode(v.value(), "feedback comment").ok(),
            ));
        }
        Ok(out)
    }

    /// The feedback comments given in `[from, to)`, newest first, at most `limit`.
    pub fn feedback_comments(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<FeedbackComment>, StoreError> {
        let mut rows: Vec<FeedbackComment> = self
            .feedback_rows()?
            .into_iter()
            .filter_map(|(_, row)| row)
            .filter(|row| row.at >= from && row.at < to)
            .collect();
        rows.sort_by(|a, b| b.at.cmp(&a.at).then(b.ticket.cmp(&a.ticket)));
        rows.truncate(limit);
        Ok(rows)
    }

    /// The tickets whose feedback comment was written before `older_than` (and those whose row
    /// cannot be read: personal data of unknown age goes too).
    pub fn feedback_older_than(&self, older_than: Timestamp) -> Result<Vec<TicketId>, StoreError> {
        Ok(self
            .feedback_rows()?
            .into_iter()
            .filter(|(_, row)| row.as_ref().is_none_or(|r| r.at < older_than))
            .map(|(id, _)| id)
            .collect())
    }
}
