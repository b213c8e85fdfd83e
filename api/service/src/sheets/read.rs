//! Reading the spreadsheets offices actually keep: XLSX written by Excel or LibreOffice, and CSV
//! as Excel saves it (UTF-8 with or without BOM, UTF-16 "Unicode text", `;` or `,` or tab).
//!
//! The result is a plain grid of [`Cell`]s with the spreadsheet's own row numbers, so a report
//! can say "row 7" and the office finds row 7. Nothing here knows what the columns mean.
//!
//! Safety decisions:
//! - the file size is checked by the caller before anything is read ([`SheetLimits`]);
//! - an XLSX is a zip: the uncompressed sizes its directory declares are added up and checked
//!   before any part is inflated, so a zip bomb is refused without being expanded;
//! - formulas are never evaluated: XLSX cells give the value the spreadsheet program cached, and
//!   CSV text is taken as text.

use std::io::{Cursor, Read};

use crate::error::{ApiError, ApiResult};

/// How much a spreadsheet may hold.
#[derive(Debug, Clone, Copy)]
pub struct SheetLimits {
    /// The largest file accepted, in bytes (CSV or XLSX as uploaded).
    pub max_file_bytes: u64,
    /// The most bytes an XLSX may inflate to, all its parts together.
    pub max_unzipped_bytes: u64,
    /// The most rows read.
    pub max_rows: usize,
}

/// 10 MB: a ward's roster is a few hundred kilobytes; a city's 13,000 members about 1 MB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

impl Default for SheetLimits {
    fn default() -> Self {
        SheetLimits {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_unzipped_bytes: 200 * 1024 * 1024,
            max_rows: 200_000,
        }
    }
}

/// One cell's value as the file holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    /// A number, or a date as its Excel serial (days since 1899-12-30).
    Number(f64),
    Bool(bool),
    /// A cell whose cached value is an error (`#REF!`, `#N/A`).
    Error(String),
}

impl Cell {
    pub fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }

    /// The cell as text: numbers without a needless `.0`.
    pub fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) => t.trim().to_owned(),
            Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            Cell::Number(n) => n.to_string(),
            Cell::Bool(b) => b.to_string(),
            Cell::Error(e) => e.clone(),
        }
    }
}

/// One non-empty row and its 1-based number in the file.
#[derive(Debug, Clone)]
pub struct Row {
    pub number: usize,
    pub cells: Vec<Cell>,
}

/// Which format a file is in, from its name (or, failing that, its first bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Xlsx,
}

impl FileFormat {
    pub fn detect(filename: &str, bytes: &[u8]) -> FileFormat {
        let lower = filename.to_ascii_lowercase();
        if lower.ends_with(".xlsx") || lower.ends_with(".xlsm") || bytes.starts_with(b"PK\x03\x04")
        {
            FileFormat::Xlsx
        } else {
            FileFormat::Csv
        }
    }
}

fn refuse(message: impl Into<String>) -> ApiError {
    ApiError::bad_input("file", message)
}

/// Reads the first worksheet (XLSX) or the whole file (CSV) into rows; empty rows are dropped.
pub fn read_rows(filename: &str, bytes: &[u8], limits: &SheetLimits) -> ApiResult<Vec<Row>> {
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(too_large(limits));
    }
    let rows = match FileFormat::detect(filename, bytes) {
        FileFormat::Xlsx => read_xlsx(bytes, limits)?,
        FileFormat::Csv => read_csv(bytes, limits)?,
    };
    Ok(rows)
}

pub fn too_large(limits: &SheetLimits) -> ApiError {
    refuse(format!(
        "is larger than {} MB; split it into smaller files",
        limits.max_file_bytes / (1024 * 1024)
    ))
}

/// Refuses an archive whose parts would inflate beyond the limit, from the sizes its central
/// directory declares — before a byte of it is decompressed. (The zip reader then stops each part
/// at its declared size, so a lying directory cannot inflate more either.)
fn check_zip(bytes: &[u8], limits: &SheetLimits) -> ApiResult<()> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|_| refuse("is not a readable XLSX workbook"))?;
    if archive.len() > 10_000 {
        return Err(refuse("holds too many parts to be a spreadsheet"));
    }
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let part = archive
            .by_index_raw(i)
            .map_err(|_| refuse("is not a readable XLSX workbook"))?;
        total = total.saturating_add(part.size());
    }
    if total > limits.max_unzipped_bytes {
        return Err(refuse(format!(
            "would inflate to {} MB, more than the {} MB a workbook may hold; it is refused unread",
            total / (1024 * 1024),
            limits.max_unzipped_bytes / (1024 * 1024)
        )));
    }
    Ok(())
}

fn read_xlsx(bytes: &[u8], limits: &SheetLimits) -> ApiResult<Vec<Row>> {
    use calamine::{Data, Reader, Xlsx};
    check_zip(bytes, limits)?;
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|_| refuse("is not a readable XLSX workbook"))?;
    let range = match book.worksheet_range_at(0) {
        Some(Ok(range)) => range,
        Some(Err(_)) => return Err(refuse("its first worksheet cannot be read")),
        None => return Err(refuse("has no worksheet")),
    };
    // Row numbers as the spreadsheet shows them: the used range may start below row 1.
    let first_row = range.start().map_or(0, |(r, _)| r as usize);
    let first_col = range.start().map_or(0, |(_, c)| c as usize);
    let mut rows = Vec::new();
    for (i, cells) in range.rows().enumerate() {
        let mut out: Vec<Cell> = vec![Cell::Empty; first_col];
        out.extend(cells.iter().map(|d| match d {
            Data::Empty => Cell::Empty,
            Data::String(s) => Cell::Text(s.clone()),
            Data::Int(n) => Cell::Number(*n as f64),
            Data::Float(f) => Cell::Number(*f),
            Data::Bool(b) => Cell::Bool(*b),
            Data::DateTime(dt) => Cell::Number(dt.as_f64()),
            Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
            Data::Error(e) => Cell::Error(format!("{e}")),
        }));
        push_row(&mut rows, first_row + i + 1, out, limits)?;
    }
    Ok(rows)
}

fn push_row(
    rows: &mut Vec<Row>,
    number: usize,
    cells: Vec<Cell>,
    l: &SheetLimits,
) -> ApiResult<()> {
    if cells.iter().all(Cell::is_empty) {
        return Ok(());
    }
    if rows.len() >= l.max_rows {
        return Err(refuse(format!("has more than {} rows", l.max_rows)));
    }
    rows.push(Row { number, cells });
    Ok(())
}

/// The file's text: BOMs say UTF-8 or UTF-16; without one, UTF-8 if it is valid, else the
/// Vietnamese Windows code page older Excel versions save in.
pub fn decode_text(bytes: &[u8]) -> String {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return text.into_owned();
    }
    // UTF-16 without a BOM: every other byte of ASCII text is zero.
    let sample = &bytes[..bytes.len().min(64)];
    let zeros_odd = sample
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|b| **b == 0)
        .count();
    let zeros_even = sample.iter().step_by(2).filter(|b| **b == 0).count();
    if sample.len() >= 4 && zeros_odd * 2 >= sample.len() / 2 {
        return encoding_rs::UTF_16LE
            .decode_without_bom_handling(bytes)
            .0
            .into_owned();
    }
    if sample.len() >= 4 && zeros_even * 2 >= sample.len() / 2 {
        return encoding_rs::UTF_16BE
            .decode_without_bom_handling(bytes)
            .0
            .into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1258.decode(bytes).0.into_owned(),
    }
}

/// The separator that splits the first lines most consistently: Excel writes `;` where the
/// decimal mark is a comma (Vietnamese settings), `,` elsewhere, and tabs for "Unicode text".
fn sniff_delimiter(text: &str) -> u8 {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(20)
        .collect();
    let mut best = (b',', 0usize);
    for d in [b',', b';', b'\t'] {
        let c = d as char;
        let most = lines
            .iter()
            .map(|l| l.matches(c).count())
            .max()
            .unwrap_or(0);
        if most > best.1 {
            best = (d, most);
        }
    }
    best.0
}

fn read_csv(bytes: &[u8], limits: &SheetLimits) -> ApiResult<Vec<Row>> {
    let text = decode_text(bytes);
    let delimiter = sniff_delimiter(&text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            refuse(format!(
                "is not valid CSV near line {}",
                e.position().map_or(i + 1, |p| p.line() as usize)
            ))
        })?;
        let number = record.position().map_or(i + 1, |p| p.line() as usize);
        let cells = record
            .iter()
            .map(|s| {
                if s.trim().is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(s.to_owned())
                }
            })
            .collect();
        push_row(&mut rows, number, cells, limits)?;
    }
    Ok(rows)
}

/// Reads the whole of `reader` up to the limit: refused, unread past it, when longer.
pub fn read_limited(reader: impl Read, limits: &SheetLimits) -> ApiResult<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(limits.max_file_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| refuse("could not be read"))?;
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(too_large(limits));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_in_the_encodings_excel_writes() {
        let plain = "Họ và tên;Số điện thoại\nNguyễn Văn A;905123456\n";
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(plain.as_bytes());
        let mut utf16 = vec![0xFF, 0xFE];
        for u in plain.replace(';', "\t").encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        for bytes in [plain.as_bytes().to_vec(), bom, utf16] {
            let rows = read_rows("a.csv", &bytes, &SheetLimits::default()).unwrap();
            assert_eq!(rows.len(), 2);
            assert_eq!(rows[0].cells[0], Cell::Text("Họ và tên".into()));
            assert_eq!(rows[1].cells[1].text(), "905123456");
        }
    }

    #[test]
    fn blank_rows_are_dropped_and_numbers_kept() {
        let rows = read_rows("a.csv", b"a,b\n,,\n1,2\n\n,\n", &SheetLimits::default()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].number, 3);
        assert_eq!(Cell::Number(905123456.0).text(), "905123456");
    }

    #[test]
    fn oversized_files_and_bad_zips_are_refused() {
        let limits = SheetLimits {
            max_file_bytes: 4,
            ..Default::default()
        };
        assert!(read_rows("a.csv", b"12345", &limits).is_err());
        assert!(read_rows("a.xlsx", b"PK\x03\x04garbage", &SheetLimits::default()).is_err());
    }
}
