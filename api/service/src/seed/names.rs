//! Vietnamese personal names and mobile numbers for demo members.
//!
//! Names are drawn family / middle / given, in Vietnamese order. Family names follow their rough
//! national frequencies, tilted towards Central Vietnam (Võ, Huỳnh, Phan, Hồ are commoner in Đà
//! Nẵng than in the north). Women carry the middle name "Thị" a little over half the time, as
//! among today's adults; a few people have no middle name at all. Every literal here is NFC (a
//! test checks it), since that is the form names are stored in.

use super::rng::SplitMix64;

/// A generated person's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PersonName {
    pub family: &'static str,
    pub middle: Option<&'static str>,
    pub given: &'static str,
}

impl PersonName {
    /// "family middle given", the way Vietnamese names are written and spoken.
    pub(crate) fn full(&self) -> String {
        match self.middle {
            Some(middle) => format!("{} {middle} {}", self.family, self.given),
            None => format!("{} {}", self.family, self.given),
        }
    }
}

/// Family names with weights (roughly per mille of the population, Central-Vietnam tilted).
const FAMILY: &[(&str, u32)] = &[
    ("Nguyễn", 300),
    ("Trần", 95),
    ("Lê", 95),
    ("Phạm", 55),
    ("Võ", 55),
    ("Huỳnh", 50),
    ("Phan", 45),
    ("Hoàng", 25),
    ("Hồ", 30),
    ("Đặng", 25),
    ("Bùi", 18),
    ("Đỗ", 18),
    ("Ngô", 18),
    ("Trương", 18),
    ("Đoàn", 15),
    ("Dương", 12),
    ("Lương", 10),
    ("Đinh", 10),
    ("Mai", 8),
    ("Thái", 8),
    ("Lý", 6),
    ("Châu", 6),
    ("Cao", 6),
    ("Tôn", 5),
    ("Hà", 5),
    ("Lâm", 5),
    ("Tạ", 4),
    ("Văn", 4),
];

const MALE_MIDDLE: &[(&str, u32)] = &[
    ("Văn", 300),
    ("Hữu", 60),
    ("Đức", 60),
    ("Công", 50),
    ("Minh", 70),
    ("Quang", 60),
    ("Thành", 40),
    ("Ngọc", 40),
    ("Xuân", 30),
    ("Đình", 40),
    ("Anh", 30),
    ("Quốc", 50),
    ("Tấn", 40),
    ("Bá", 20),
    ("Trọng", 30),
    ("Nhật", 30),
    ("Gia", 20),
    ("Thanh", 30),
];

/// Women's middle names other than "Thị".
const FEMALE_MIDDLE: &[(&str, u32)] = &[
    ("Ngọc", 60),
    ("Thu", 40),
    ("Thanh", 50),
    ("Minh", 30),
    ("Kim", 30),
    ("Hồng", 30),
    ("Mỹ", 30),
    ("Bảo", 20),
    ("Phương", 25),
    ("Diệu", 15),
    ("Khánh", 20),
    ("Hoài", 20),
    ("Thùy", 30),
    ("Quỳnh", 20),
    ("Cẩm", 15),
];

const MALE_GIVEN: &[&str] = &[
    "Hùng", "Dũng", "Tuấn", "Minh", "Nam", "Long", "Quân", "Hải", "Sơn", "Phúc", "Khoa", "Trung",
    "Hiếu", "Thắng", "Chung", "Tài", "Bảo", "Huy", "Đạt", "Lộc", "Phát", "Vinh", "Tâm", "Cường",
    "Nhân", "Thịnh", "Tín", "Hòa", "Bình", "Khánh", "Nghĩa", "Trí", "Toàn", "Phong", "Quang",
    "Thành", "Việt", "Hoàng", "Kiên", "Duy", "Lâm", "Thuận", "Tú", "An", "Đông", "Hưng",
];

const FEMALE_GIVEN: &[&str] = &[
    "Lan", "Hoa", "Hương", "Mai", "Linh", "Trang", "Thảo", "Nhung", "Hạnh", "Yến", "Ngân", "Nga",
    "Thủy", "Hằng", "Vy", "Nhi", "My", "Hà", "Phương", "Oanh", "Diệp", "Hiền", "Loan", "Tuyết",
    "Châu", "Anh", "Dung", "Huyền", "Liên", "Lý", "Nguyệt", "Quyên", "Sương", "Tâm", "Thư",
    "Trinh", "Uyên", "Vân", "Xuân", "Ánh", "Bích", "Giang", "Hậu", "Khuyên", "Ly", "Thắm",
];

/// Mobile prefixes in use (Viettel, VinaPhone, MobiFone), with rough market weights; Đà Nẵng's
/// old 090x/093x MobiFone numbers are common.
const MOBILE_PREFIXES: &[(&str, u32)] = &[
    ("090", 9),
    ("093", 7),
    ("070", 3),
    ("079", 3),
    ("077", 3),
    ("076", 2),
    ("078", 2),
    ("091", 6),
    ("094", 5),
    ("081", 2),
    ("082", 2),
    ("083", 2),
    ("084", 2),
    ("085", 2),
    ("088", 3),
    ("096", 5),
    ("097", 6),
    ("098", 6),
    ("086", 4),
    ("032", 3),
    ("033", 3),
    ("034", 3),
    ("035", 3),
    ("036", 3),
    ("037", 3),
    ("038", 3),
    ("039", 3),
];

/// A random name for a woman (`female`) or a man.
pub(crate) fn person(rng: &mut SplitMix64, female: bool) -> PersonName {
    let family = rng.weighted(FAMILY);
    let middle = if rng.percent(3) {
        None
    } else if female {
        Some(if rng.percent(55) {
            "Thị"
        } else {
            rng.weighted(FEMALE_MIDDLE)
        })
    } else {
        Some(rng.weighted(MALE_MIDDLE))
    };
    let given = if female {
        *rng.pick(FEMALE_GIVEN)
    } else {
        *rng.pick(MALE_GIVEN)
    };
    PersonName {
        family,
        middle,
        given,
    }
}

/// A mobile number as a person would type it ("0905123456"), unique per `serial`.
///
/// The prefix is random; the seven subscriber digits are an affine permutation of `serial`
/// modulo 10^7 (the multiplier is coprime to 10^7), so serials below ten million — member ids up
/// to scale ~700 — never share a number, whatever their prefixes.
pub(crate) fn mobile(rng: &mut SplitMix64, serial: u64) -> String {
    const MODULUS: u64 = 10_000_000;
    let prefix = rng.weighted(MOBILE_PREFIXES);
    let digits = (serial % MODULUS * 7_654_321 + 3_141_593) % MODULUS;
    format!("{prefix}{digits:07}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdtg_core::text::nfc;

    #[test]
    fn every_literal_is_nfc_and_short() {
        let tables = [FAMILY, MALE_MIDDLE, FEMALE_MIDDLE];
        let weighted = tables.iter().flat_map(|t| t.iter().map(|&(s, _)| s));
        for s in weighted
            .chain(MALE_GIVEN.iter().copied())
            .chain(FEMALE_GIVEN.iter().copied())
        {
            assert_eq!(nfc(s), s, "{s} is not NFC");
            assert!(!s.is_empty() && s.chars().count() <= 50);
        }
    }

    #[test]
    fn mobiles_validate_and_do_not_repeat() {
        let mut rng = SplitMix64::new(1);
        let mut seen = std::collections::HashSet::new();
        for serial in 1..20_000 {
            let raw = mobile(&mut rng, serial);
            let phone = cdtg_core::validate::phone("phone", &raw).expect("valid mobile");
            assert!(phone.starts_with("+84") && phone.len() == 12, "{phone}");
            assert!(seen.insert(raw[3..].to_owned()), "subscriber digits repeat");
        }
    }

    #[test]
    fn names_read_naturally() {
        let mut rng = SplitMix64::new(2);
        let woman = person(&mut rng, true);
        assert!(FEMALE_GIVEN.contains(&woman.given));
        let full = woman.full();
        assert!(full.starts_with(woman.family) && full.ends_with(woman.given));
        assert!(!full.contains("  "));
    }
}
