//! The header dictionary: which columns each kind of sheet has, the Vietnamese headings offices
//! write and their English aliases, and how a heading row is found under the title rows above
//! it. Also the readers of cell values that offices spell many ways (phones, dates, roles).

use chrono::NaiveDate;

use super::read::{Cell, Row};
use crate::error::{ApiError, ApiResult};
use cdtg_core::group::{Affiliation, GroupKind, MembershipRole};

/// A column an import understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    FullName,
    Phone,
    Unit,
    Group,
    Role,
    Affiliation,
    TrainedOn,
    JoinedOn,
    GroupName,
    GroupKind,
    EstablishedOn,
    DecisionNumber,
    Zalo,
}

/// One column of a sheet kind: its heading as offices write it (also the template's heading),
/// the other spellings accepted, and whether every file must have it.
pub struct ColumnSpec {
    pub column: Column,
    pub heading: &'static str,
    pub aliases: &'static [&'static str],
    pub required: bool,
}

/// The columns of a roster of members (one row a member, with the group they belong to).
pub const MEMBER_COLUMNS: &[ColumnSpec] = &[
    ColumnSpec {
        column: Column::FullName,
        heading: "Họ và tên",
        aliases: &["Họ tên", "Họ và tên thành viên", "Full name", "Name"],
        required: true,
    },
    ColumnSpec {
        column: Column::Phone,
        heading: "Số điện thoại",
        aliases: &[
            "SĐT",
            "Điện thoại",
            "Số ĐT",
            "Phone",
            "Phone number",
            "Mobile",
        ],
        required: true,
    },
    ColumnSpec {
        column: Column::Unit,
        heading: "Tổ dân phố",
        aliases: &[
            "Đơn vị",
            "Thôn",
            "Khu phố",
            "Thôn/Tổ dân phố",
            "Tổ dân phố/Thôn",
            "Unit",
            "Residential group",
        ],
        required: false,
    },
    ColumnSpec {
        column: Column::Group,
        heading: "Tổ công nghệ số",
        aliases: &[
            "Tổ CNSCĐ",
            "Tổ công nghệ số cộng đồng",
            "Tên tổ",
            "Nhóm",
            "Group",
        ],
        required: false,
    },
    ColumnSpec {
        column: Column::Role,
        heading: "Chức vụ",
        aliases: &["Vai trò", "Chức danh", "Role", "Position"],
        required: false,
    },
    ColumnSpec {
        column: Column::Affiliation,
        heading: "Đoàn thể",
        aliases: &["Thành phần", "Tổ chức", "Affiliation"],
        required: false,
    },
    ColumnSpec {
        column: Column::TrainedOn,
        heading: "Ngày tập huấn",
        aliases: &["Ngày được tập huấn", "Trained on", "Training date"],
        required: false,
    },
    ColumnSpec {
        column: Column::JoinedOn,
        heading: "Ngày tham gia",
        aliases: &["Ngày vào tổ", "Joined on"],
        required: false,
    },
];

/// The columns of a list of groups.
pub const GROUP_COLUMNS: &[ColumnSpec] = &[
    ColumnSpec {
        column: Column::GroupName,
        heading: "Tên tổ",
        aliases: &[
            "Tổ công nghệ số",
            "Tên tổ công nghệ số",
            "Tổ CNSCĐ",
            "Tên nhóm",
            "Group",
            "Group name",
            "Name",
        ],
        required: true,
    },
    ColumnSpec {
        column: Column::Unit,
        heading: "Tổ dân phố",
        aliases: &["Đơn vị", "Thôn", "Khu phố", "Unit", "Residential group"],
        required: false,
    },
    ColumnSpec {
        column: Column::GroupKind,
        heading: "Loại tổ",
        aliases: &["Loại", "Kind", "Type"],
        required: false,
    },
    ColumnSpec {
        column: Column::EstablishedOn,
        heading: "Ngày thành lập",
        aliases: &["Established on", "Founded on"],
        required: false,
    },
    ColumnSpec {
        column: Column::DecisionNumber,
        heading: "Số quyết định",
        aliases: &["Quyết định", "Số QĐ", "Decision number"],
        required: false,
    },
    ColumnSpec {
        column: Column::Zalo,
        heading: "Nhóm Zalo",
        aliases: &["Zalo", "Link Zalo", "Zalo URL"],
        required: false,
    },
];

/// A heading or value as compared: accents, case, punctuation and spacing ignored
/// ("SỐ ĐIỆN THOẠI (*)" is "so dien thoai").
pub fn normalise(s: &str) -> String {
    let folded = cdtg_core::text::fold(s);
    let spaced: String = folded
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Where each known column sits in a file, and the heading row's position.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Index into the rows of the heading row.
    pub header_index: usize,
    pub positions: Vec<(Column, usize)>,
    /// Headings the import does not use (reported, not an error).
    pub ignored: Vec<String>,
}

impl Layout {
    pub fn position(&self, column: Column) -> Option<usize> {
        self.positions
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, i)| *i)
    }

    pub fn cell<'a>(&self, row: &'a Row, column: Column) -> Option<&'a Cell> {
        self.position(column)
            .and_then(|i| row.cells.get(i))
            .filter(|c| !c.is_empty())
    }
}

fn match_heading(specs: &[ColumnSpec], text: &str) -> Option<Column> {
    let n = normalise(text);
    if n.is_empty() {
        return None;
    }
    specs
        .iter()
        .find(|s| normalise(s.heading) == n || s.aliases.iter().any(|a| normalise(a) == n))
        .map(|s| s.column)
}

/// The expected headings, for messages: "Họ và tên*, Số điện thoại*, Tổ dân phố, …".
pub fn expected(specs: &[ColumnSpec]) -> String {
    specs
        .iter()
        .map(|s| {
            if s.required {
                format!("{} (required)", s.heading)
            } else {
                s.heading.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Finds the heading row among the first rows (title rows, merged or not, come above it): the
/// first row that names every required column. Refused, naming the expected headings, when no
/// row does.
pub fn find_layout(specs: &[ColumnSpec], rows: &[Row]) -> ApiResult<Layout> {
    for (index, row) in rows.iter().take(30).enumerate() {
        let mut positions: Vec<(Column, usize)> = Vec::new();
        let mut ignored = Vec::new();
        for (i, cell) in row.cells.iter().enumerate() {
            let text = cell.text();
            match match_heading(specs, &text) {
                Some(c) if !positions.iter().any(|(p, _)| *p == c) => positions.push((c, i)),
                _ if !text.is_empty() => ignored.push(text),
                _ => {}
            }
        }
        let has_required = specs
            .iter()
            .filter(|s| s.required)
            .all(|s| positions.iter().any(|(c, _)| *c == s.column));
        if has_required {
            return Ok(Layout {
                header_index: index,
                positions,
                ignored,
            });
        }
    }
    Err(ApiError::bad_input(
        "file",
        format!(
            "no heading row with the required columns was found; expected headings: {}",
            expected(specs)
        ),
    ))
}

/// The heading of a column in a kind of sheet (for row errors).
pub fn heading(specs: &[ColumnSpec], column: Column) -> &'static str {
    specs
        .iter()
        .find(|s| s.column == column)
        .map_or("?", |s| s.heading)
}

/// A phone as offices store it: text in any spelling, or a number that lost its leading 0
/// (905123456). Normalised with the same rule as every other phone (`cdtg_core`).
pub fn phone(cell: &Cell) -> Result<String, String> {
    let mut text = cell.text();
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if digits_only && text.len() == 9 {
        text.insert(0, '0');
    }
    cdtg_core::validate::phone("phone", &text).map_err(|e| e.message)
}

/// The Excel epoch: serial 1 is 1900-01-01, but Excel counts a 29 February 1900 that never was,
/// so serials from 61 on are days since 1899-12-30.
fn from_serial(serial: f64) -> Option<NaiveDate> {
    if !(61.0..=2_958_465.0).contains(&serial) {
        return None;
    }
    NaiveDate::from_ymd_opt(1899, 12, 30)?.checked_add_days(chrono::Days::new(serial as u64))
}

/// A date as offices write it: an Excel date (a serial), `dd/mm/yyyy` (also with `-` or `.`), or
/// ISO `yyyy-mm-dd`. Day first, as in Vietnam.
pub fn date(cell: &Cell) -> Result<NaiveDate, String> {
    const SHAPE: &str = "is not a date; write dd/mm/yyyy";
    match cell {
        Cell::Number(n) => from_serial(*n).ok_or_else(|| SHAPE.to_owned()),
        other => {
            let text = other.text();
            if let Ok(d) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
                return Ok(d);
            }
            // "2024-05-01T00:00:00" from an ISO date-time cell.
            if let Some(d) = text
                .get(..10)
                .and_then(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
            {
                return Ok(d);
            }
            let parts: Vec<&str> = text
                .split(['/', '-', '.'])
                .map(str::trim)
                .collect::<Vec<_>>();
            if let [d, m, y] = parts.as_slice()
                && let (Ok(d), Ok(m), Ok(y)) = (d.parse(), m.parse(), y.parse::<i32>())
                && (1900..=2100).contains(&y)
            {
                return NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| SHAPE.to_owned());
            }
            Err(SHAPE.to_owned())
        }
    }
}

/// A member's name split the Vietnamese way: the first word is the family name, the last the
/// given name, anything between the middle name.
pub fn split_name(full: &str) -> Result<(String, Option<String>, String), String> {
    let words: Vec<&str> = full.split_whitespace().collect();
    match words.as_slice() {
        [] => Err("is empty".to_owned()),
        [_] => Err("needs a family name and a given name".to_owned()),
        [family, given] => Ok(((*family).to_owned(), None, (*given).to_owned())),
        [family, middle @ .., given] => Ok((
            (*family).to_owned(),
            Some(middle.join(" ")),
            (*given).to_owned(),
        )),
    }
}

/// `Chức vụ`: the role in the group. Empty means an ordinary member.
pub fn role(cell: Option<&Cell>) -> Result<MembershipRole, String> {
    let Some(cell) = cell else {
        return Ok(MembershipRole::Member);
    };
    let n = normalise(&cell.text());
    Ok(match n.as_str() {
        "to truong" | "truong nhom" | "nhom truong" | "truong" | "leader" => MembershipRole::Leader,
        "to pho" | "pho nhom" | "nhom pho" | "pho" | "deputy" | "deputy leader" => {
            MembershipRole::Deputy
        }
        "thanh vien" | "to vien" | "member" | "" => MembershipRole::Member,
        _ => {
            return MembershipRole::parse(&cell.text().trim().to_uppercase())
                .ok_or_else(|| "is not a role; write Tổ trưởng, Tổ phó or Thành viên".to_owned());
        }
    })
}

/// `Đoàn thể`: where the member comes from.
pub fn affiliation(cell: &Cell) -> Result<Affiliation, String> {
    let n = normalise(&cell.text());
    Ok(match n.as_str() {
        "to truong to dan pho" | "to truong tdp" | "truong thon" | "residential group head" => {
            Affiliation::ResidentialGroupHead
        }
        "doan thanh nien" | "doan tn" | "dtn" | "thanh nien" | "youth union" => {
            Affiliation::YouthUnion
        }
        "hoi phu nu"
        | "hoi lhpn"
        | "phu nu"
        | "hoi lien hiep phu nu"
        | "women s union"
        | "womens union" => Affiliation::WomensUnion,
        "hoi nong dan" | "nong dan" | "farmers association" | "farmers union" => {
            Affiliation::FarmersAssociation
        }
        "cong an" | "police" => Affiliation::Police,
        "can bo" | "cadre" => Affiliation::Cadre,
        "cong chuc" | "civil servant" => Affiliation::CivilServant,
        "vien chuc" | "public employee" => Affiliation::PublicEmployee,
        "doanh nghiep" | "nhan vien doanh nghiep" | "enterprise staff" => {
            Affiliation::EnterpriseStaff
        }
        "nguoi dan" | "cu dan" | "resident" => Affiliation::Resident,
        // Mass organisations with no category of their own.
        "khac" | "other" | "hoi cuu chien binh" | "cuu chien binh" | "hoi ccb" | "ccb"
        | "cong doan" | "mat tran" | "mat tran to quoc" | "hoi nguoi cao tuoi"
        | "hoi chu thap do" | "chu thap do" => Affiliation::Other,
        _ => {
            let wire = cell.text().trim().to_uppercase().replace(' ', "_");
            return Affiliation::parse(&wire).ok_or_else(|| {
                "is not a known organisation (Đoàn thanh niên, Hội phụ nữ, Hội nông dân, Công an, \
                 Cán bộ, Công chức, Viên chức, Doanh nghiệp, Tổ trưởng tổ dân phố, Người dân, Khác)"
                    .to_owned()
            });
        }
    })
}

/// The Vietnamese word for an affiliation, as exports write it (and imports read it back).
pub fn affiliation_label(a: Affiliation) -> &'static str {
    match a {
        Affiliation::ResidentialGroupHead => "Tổ trưởng tổ dân phố",
        Affiliation::YouthUnion => "Đoàn thanh niên",
        Affiliation::WomensUnion => "Hội phụ nữ",
        Affiliation::FarmersAssociation => "Hội nông dân",
        Affiliation::Police => "Công an",
        Affiliation::Cadre => "Cán bộ",
        Affiliation::CivilServant => "Công chức",
        Affiliation::PublicEmployee => "Viên chức",
        Affiliation::EnterpriseStaff => "Doanh nghiệp",
        Affiliation::Resident => "Người dân",
        Affiliation::Other => "Khác",
    }
}

pub fn role_label(r: MembershipRole) -> &'static str {
    match r {
        MembershipRole::Leader => "Tổ trưởng",
        MembershipRole::Deputy => "Tổ phó",
        MembershipRole::Member => "Thành viên",
    }
}

/// `Loại tổ`: a community group unless the file says it manages.
pub fn group_kind(cell: Option<&Cell>) -> Result<GroupKind, String> {
    let Some(cell) = cell else {
        return Ok(GroupKind::Community);
    };
    let n = normalise(&cell.text());
    Ok(match n.as_str() {
        "cong dong" | "to cong nghe so cong dong" | "cnscd" | "community" => GroupKind::Community,
        "quan ly" | "ban chi dao" | "to chi dao" | "management" => GroupKind::Management,
        _ => GroupKind::parse(&cell.text().trim().to_uppercase())
            .ok_or_else(|| "is not a kind of group; write Cộng đồng or Quản lý".to_owned())?,
    })
}

pub fn group_kind_label(k: GroupKind) -> &'static str {
    match k {
        GroupKind::Community => "Cộng đồng",
        GroupKind::Management => "Quản lý",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: usize, cells: &[&str]) -> Row {
        Row {
            number: n,
            cells: cells
                .iter()
                .map(|c| {
                    if c.is_empty() {
                        Cell::Empty
                    } else {
                        Cell::Text((*c).to_owned())
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn headings_are_found_under_title_rows_in_any_spelling() {
        let rows = [
            row(1, &["DANH SÁCH THÀNH VIÊN TỔ CÔNG NGHỆ SỐ", "", ""]),
            row(
                2,
                &["STT", "HỌ VÀ TÊN", " so  dien thoai (*) ", "Đoàn  thể"],
            ),
        ];
        let layout = find_layout(MEMBER_COLUMNS, &rows).unwrap();
        assert_eq!(layout.header_index, 1);
        assert_eq!(layout.position(Column::FullName), Some(1));
        assert_eq!(layout.position(Column::Phone), Some(2));
        assert_eq!(layout.position(Column::Affiliation), Some(3));
        assert_eq!(layout.ignored, ["STT"]);
    }

    #[test]
    fn missing_headings_name_the_expected_ones() {
        let rows = [row(1, &["Tên", "Tuổi"])];
        match find_layout(MEMBER_COLUMNS, &rows) {
            Err(ApiError::BadUserInput { field, message }) => {
                assert_eq!(field, "file");
                assert!(message.contains("Họ và tên"), "{message}");
                assert!(message.contains("Số điện thoại"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn phones_dates_and_words() {
        assert_eq!(phone(&Cell::Number(905123456.0)).unwrap(), "+84905123456");
        assert_eq!(
            phone(&Cell::Text("0905 123 456".into())).unwrap(),
            "+84905123456"
        );
        assert!(phone(&Cell::Text("12345".into())).is_err());
        let may_day = NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
        assert_eq!(date(&Cell::Number(45413.0)).unwrap(), may_day);
        assert_eq!(date(&Cell::Text("01/05/2024".into())).unwrap(), may_day);
        assert_eq!(date(&Cell::Text("2024-05-01".into())).unwrap(), may_day);
        assert!(date(&Cell::Text("31/02/2024".into())).is_err());
        assert_eq!(
            role(Some(&Cell::Text("TỔ TRƯỞNG".into()))).unwrap(),
            MembershipRole::Leader
        );
        assert_eq!(
            affiliation(&Cell::Text("Đoàn Thanh niên".into())).unwrap(),
            Affiliation::YouthUnion
        );
        assert_eq!(
            split_name("Nguyễn  Thị Minh Khai").unwrap(),
            (
                "Nguyễn".to_owned(),
                Some("Thị Minh".to_owned()),
                "Khai".to_owned()
            )
        );
    }
}
