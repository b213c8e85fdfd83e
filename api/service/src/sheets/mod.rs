//! Spreadsheets as ward and district offices keep them: reading CSV and XLSX files into rows
//! ([`read`]), the heading dictionary and the cell readers for the values offices write
//! ([`columns`]), and writing rows out as CSV or XLSX with formula injection neutralised
//! ([`write`]). What the rows mean — imports and exports — is the service layer's
//! (`service::import`, `service::export`).

pub mod columns;
pub mod read;
pub mod write;
