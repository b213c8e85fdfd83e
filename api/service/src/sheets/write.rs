//! Writing sheets row by row: CSV into byte chunks the HTTP body streams out, XLSX through
//! `rust_xlsxwriter`'s constant-memory mode (rows go to a temporary file as they are written).
//!
//! Formula injection: a text cell that a spreadsheet program would read as a formula (it starts
//! with `=`, `+`, `-`, `@`, a tab or a carriage return) is written with a leading apostrophe, the
//! spreadsheet convention for "this is text". Only *text* is neutralised: numbers are written as
//! numbers (a real XLSX number cell, an unquoted CSV number), so −5 stays a number; phone numbers
//! are exported in the national form `0905123456`, which needs no neutralising at all.

use chrono::NaiveDate;

use crate::error::{ApiError, ApiResult};

/// One cell to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Empty,
    Text(String),
    Int(i64),
    Float(f64),
    Date(NaiveDate),
}

impl Out {
    pub fn text(s: impl Into<String>) -> Out {
        Out::Text(s.into())
    }

    pub fn opt_text(s: Option<impl Into<String>>) -> Out {
        s.map_or(Out::Empty, |s| Out::Text(s.into()))
    }

    pub fn opt_date(d: Option<NaiveDate>) -> Out {
        d.map_or(Out::Empty, Out::Date)
    }
}

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SheetFormat {
    Csv,
    Xlsx,
}

impl SheetFormat {
    pub fn parse(s: &str) -> Option<SheetFormat> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Some(SheetFormat::Csv),
            "xlsx" => Some(SheetFormat::Xlsx),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            SheetFormat::Csv => "csv",
            SheetFormat::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            SheetFormat::Csv => "text/csv; charset=utf-8",
            SheetFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        }
    }
}

/// Text a spreadsheet would take for a formula gets a leading apostrophe.
pub fn neutralise(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

/// A phone as offices write it: `+84905123456` → `0905123456`.
pub fn national_phone(stored: &str) -> String {
    match stored.strip_prefix("+84") {
        Some(rest) => format!("0{rest}"),
        None => stored.to_owned(),
    }
}

fn date_text(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// CSV rows into a buffer the caller drains after each chunk. UTF-8 with a BOM, comma-separated:
/// what Excel opens correctly with Vietnamese text.
pub struct CsvRows {
    writer: csv::Writer<Vec<u8>>,
}

fn csv_writer(buffer: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(buffer)
}

impl Default for CsvRows {
    fn default() -> Self {
        Self::new()
    }
}

impl CsvRows {
    pub fn new() -> Self {
        let mut buffer = Vec::with_capacity(64 * 1024);
        buffer.extend_from_slice(&[0xEF, 0xBB, 0xBF]);
        CsvRows {
            writer: csv_writer(buffer),
        }
    }

    pub fn row(&mut self, cells: &[Out]) -> ApiResult<()> {
        let fields: Vec<String> = cells
            .iter()
            .map(|c| match c {
                Out::Empty => String::new(),
                Out::Text(t) => neutralise(t).into_owned(),
                Out::Int(n) => n.to_string(),
                Out::Float(f) => f.to_string(),
                Out::Date(d) => date_text(*d),
            })
            .collect();
        self.writer.write_record(&fields).map_err(internal)
    }

    /// The bytes written since the last call.
    pub fn take(&mut self) -> ApiResult<Vec<u8>> {
        let writer = std::mem::replace(&mut self.writer, csv_writer(Vec::new()));
        writer.into_inner().map_err(|e| internal(e.error()))
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("writing a sheet: {e}"))
}

/// An XLSX workbook with one worksheet, written row by row in constant memory.
pub struct XlsxRows {
    workbook: rust_xlsxwriter::Workbook,
    next_row: u32,
    bold: rust_xlsxwriter::Format,
    date: rust_xlsxwriter::Format,
}

impl XlsxRows {
    pub fn new(sheet_name: &str) -> ApiResult<Self> {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        workbook
            .add_worksheet_with_constant_memory()
            .and_then(|sheet| sheet.set_name(sheet_name))
            .map_err(internal)?;
        Ok(XlsxRows {
            workbook,
            next_row: 0,
            bold: rust_xlsxwriter::Format::new().set_bold(),
            date: rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy"),
        })
    }

    /// The heading row, in bold.
    pub fn heading(&mut self, cells: &[&str]) -> ApiResult<()> {
        let row = self.next_row;
        let bold = self.bold.clone();
        let sheet = self.workbook.worksheet_from_index(0).map_err(internal)?;
        for (i, text) in cells.iter().enumerate() {
            sheet
                .write_string_with_format(row, i as u16, *text, &bold)
                .map_err(internal)?;
            sheet.set_column_width(i as u16, 20).map_err(internal)?;
        }
        self.next_row += 1;
        Ok(())
    }

    pub fn row(&mut self, cells: &[Out]) -> ApiResult<()> {
        let row = self.next_row;
        let date_format = self.date.clone();
        let sheet = self.workbook.worksheet_from_index(0).map_err(internal)?;
        for (i, cell) in cells.iter().enumerate() {
            let col = i as u16;
            match cell {
                Out::Empty => continue,
                // XLSX string cells are never formulas, but the file is often saved on as CSV or
                // copied into another sheet: the apostrophe travels with the text.
                Out::Text(t) => sheet.write_string(row, col, neutralise(t)),
                Out::Int(n) => sheet.write_number(row, col, *n as f64),
                Out::Float(f) => sheet.write_number(row, col, *f),
                Out::Date(d) => {
                    let dt = rust_xlsxwriter::ExcelDateTime::from_ymd(
                        d.year_ce().1 as u16,
                        d.month0() as u8 + 1,
                        d.day0() as u8 + 1,
                    )
                    .map_err(internal)?;
                    sheet.write_datetime_with_format(row, col, &dt, &date_format)
                }
            }
            .map(|_| ())
            .map_err(internal)?;
        }
        self.next_row += 1;
        Ok(())
    }

    /// Finishes the workbook into `path`.
    pub fn save(mut self, path: &std::path::Path) -> ApiResult<()> {
        self.workbook.save(path).map_err(internal)
    }

    /// Finishes the workbook in memory (templates and small sheets).
    pub fn into_bytes(mut self) -> ApiResult<Vec<u8>> {
        self.workbook.save_to_buffer().map_err(internal)
    }
}

use chrono::Datelike;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_numbers_are_not() {
        assert_eq!(
            neutralise("=HYPERLINK(\"http://x\",\"y\")"),
            "'=HYPERLINK(\"http://x\",\"y\")"
        );
        for t in ["+84905", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(neutralise(t).starts_with('\''), "{t}");
        }
        assert_eq!(neutralise("Nguyễn"), "Nguyễn");
        let mut csv = CsvRows::new();
        csv.row(&[Out::Int(-5), Out::text("-5"), Out::text("=1+1")])
            .unwrap();
        let bytes = csv.take().unwrap();
        assert_eq!(&bytes[3..], b"-5,'-5,'=1+1\n");
        assert_eq!(national_phone("+84905123456"), "0905123456");
    }
}
