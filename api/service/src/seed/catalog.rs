//! Fixed vocabularies of the demo: Đà Nẵng products, task titles, field notes and producers.
//!
//! Products are tagged with where they plausibly come from, so the fishing wards of Sơn Trà and
//! Liên Chiểu sell dried squid and Nam Ô fish sauce while Hòa Vang's communes sell vegetables,
//! mushrooms and forest honey. A `{ward}` placeholder is replaced by the ward's name.

use cdtg_core::task::TaskKind;

use super::rng::SplitMix64;

/// The kind of place a ward is, for choosing its products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    /// Inner-city wards: processed food, drinks, crafts.
    Urban,
    /// Seaside wards (Sơn Trà, Ngũ Hành Sơn, Liên Chiểu): seafood too.
    Coastal,
    /// Hòa Vang's rural communes: farm and forest produce.
    Rural,
}

/// Where a product is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Anywhere,
    Coast,
    Countryside,
}

/// A product template.
pub(crate) struct ProductKind {
    /// Name; `{ward}` is replaced by the ward's name.
    pub name: &'static str,
    pub category: &'static str,
    pub sale_unit: &'static str,
    origin: Origin,
}

const fn product(
    name: &'static str,
    category: &'static str,
    sale_unit: &'static str,
    origin: Origin,
) -> ProductKind {
    ProductKind {
        name,
        category,
        sale_unit,
        origin,
    }
}

const SEAFOOD: &str = "Thủy hải sản khô";
const SAUCE: &str = "Nước mắm và mắm";
const PROCESSED: &str = "Thực phẩm chế biến";
const FARM: &str = "Nông sản";
const GREENS: &str = "Rau củ quả";
const DRINKS: &str = "Đồ uống";
const SWEETS: &str = "Bánh kẹo, đặc sản";
const CRAFT: &str = "Thủ công mỹ nghệ";
const HERBAL: &str = "Dược liệu, thảo mộc";
const CARE: &str = "Chăm sóc cá nhân";

const PRODUCTS: &[ProductKind] = &[
    product("Nước mắm Nam Ô", SAUCE, "chai 500 ml", Origin::Coast),
    product(
        "Nước mắm nhĩ cá cơm Nam Ô",
        SAUCE,
        "chai 250 ml",
        Origin::Coast,
    ),
    product("Mắm nêm Đà Nẵng", SAUCE, "hũ 500 g", Origin::Anywhere),
    product("Mắm ruốc {ward}", SAUCE, "hũ 300 g", Origin::Coast),
    product("Mực một nắng Sơn Trà", SEAFOOD, "kg", Origin::Coast),
    product("Mực khô {ward}", SEAFOOD, "kg", Origin::Coast),
    product("Cá cơm sấy giòn", SEAFOOD, "gói 250 g", Origin::Coast),
    product("Cá khô một nắng {ward}", SEAFOOD, "kg", Origin::Coast),
    product("Tôm khô Mân Thái", SEAFOOD, "gói 500 g", Origin::Coast),
    product("Ruốc biển sấy khô", SEAFOOD, "gói 200 g", Origin::Coast),
    product("Rong biển sấy giòn", SEAFOOD, "hộp 100 g", Origin::Coast),
    product("Chả cá Thọ Quang", PROCESSED, "kg", Origin::Coast),
    product("Chả bò Đà Nẵng", PROCESSED, "kg", Origin::Anywhere),
    product("Tré Đà Nẵng", PROCESSED, "chục", Origin::Anywhere),
    product("Nem chua {ward}", PROCESSED, "chục", Origin::Anywhere),
    product(
        "Tương ớt Đà Nẵng",
        PROCESSED,
        "chai 250 ml",
        Origin::Anywhere,
    ),
    product(
        "Bánh tráng nướng mè đen",
        SWEETS,
        "xấp 10 cái",
        Origin::Anywhere,
    ),
    product(
        "Bánh tráng Túy Loan",
        SWEETS,
        "xấp 20 cái",
        Origin::Countryside,
    ),
    product("Bánh khô mè Cẩm Lệ", SWEETS, "hộp 500 g", Origin::Anywhere),
    product(
        "Bánh in nhân đậu xanh",
        SWEETS,
        "hộp 300 g",
        Origin::Anywhere,
    ),
    product("Mứt gừng {ward}", SWEETS, "hộp 250 g", Origin::Anywhere),
    product(
        "Cà phê rang xay {ward}",
        DRINKS,
        "gói 500 g",
        Origin::Anywhere,
    ),
    product(
        "Trà thảo mộc {ward}",
        DRINKS,
        "hộp 20 túi",
        Origin::Anywhere,
    ),
    product(
        "Trà xanh Hòa Ninh",
        DRINKS,
        "gói 200 g",
        Origin::Countryside,
    ),
    product("Nước yến sào", DRINKS, "hộp 6 lọ", Origin::Anywhere),
    product("Rau an toàn {ward}", GREENS, "kg", Origin::Countryside),
    product("Rau thơm Túy Loan", GREENS, "bó", Origin::Countryside),
    product("Rau hữu cơ {ward}", GREENS, "kg", Origin::Countryside),
    product("Bưởi da xanh Hòa Ninh", GREENS, "kg", Origin::Countryside),
    product("Chuối mốc {ward}", GREENS, "nải", Origin::Countryside),
    product("Gạo sạch Hòa Tiến", FARM, "túi 5 kg", Origin::Countryside),
    product("Nấm bào ngư {ward}", FARM, "kg", Origin::Countryside),
    product(
        "Nấm linh chi Hòa Vang",
        HERBAL,
        "hộp 200 g",
        Origin::Countryside,
    ),
    product("Măng khô Hòa Bắc", FARM, "gói 500 g", Origin::Countryside),
    product(
        "Mật ong rừng Hòa Bắc",
        FARM,
        "chai 500 ml",
        Origin::Countryside,
    ),
    product("Gà thả vườn Hòa Vang", FARM, "con", Origin::Countryside),
    product("Sâm Nam Núi Chúa", HERBAL, "hộp 100 g", Origin::Countryside),
    product("Bột nghệ nguyên chất", HERBAL, "hũ 200 g", Origin::Anywhere),
    product("Tinh dầu sả chanh", CARE, "chai 100 ml", Origin::Anywhere),
    product("Xà phòng thảo mộc handmade", CARE, "bánh", Origin::Anywhere),
    product("Đá mỹ nghệ Non Nước", CRAFT, "sản phẩm", Origin::Coast),
    product("Túi cói thủ công", CRAFT, "chiếc", Origin::Anywhere),
];

/// The product templates that suit a ward of `profile`, in catalogue order.
pub(crate) fn products_for(profile: Profile) -> Vec<&'static ProductKind> {
    PRODUCTS
        .iter()
        .filter(|p| {
            matches!(
                (p.origin, profile),
                (Origin::Anywhere, _)
                    | (Origin::Coast, Profile::Coastal)
                    | (Origin::Countryside, Profile::Rural)
            )
        })
        .collect()
}

/// Kinds of cooperatives (HTX) and brands of small companies.
const COOPERATIVES: &[&str] = &[
    "Nông nghiệp",
    "Dịch vụ nông nghiệp",
    "Thủy sản",
    "Chế biến nông sản",
    "Thương mại dịch vụ",
    "Rau an toàn",
];

const COMPANIES: &[&str] = &[
    "Thực phẩm Sơn Trà",
    "Đặc sản Đà Nẵng",
    "Nông sản Xanh",
    "Thương mại Hàn Giang",
    "Sông Hàn Food",
    "Hải sản Biển Đông",
    "Mỹ Khê Foods",
    "Bà Nà Farm",
];

/// The producer of a product: a household business, a cooperative, a production unit or a small
/// company. `owner` is a generated full name.
pub(crate) fn producer(rng: &mut SplitMix64, owner: &str, ward: &str) -> String {
    match rng.below(100) {
        0..45 => format!("Hộ kinh doanh {owner}"),
        45..65 => format!("HTX {} {ward}", rng.pick(COOPERATIVES)),
        65..85 => format!("Cơ sở sản xuất {owner}"),
        _ => format!("Công ty TNHH {}", rng.pick(COMPANIES)),
    }
}

/// A task title for `kind` at `place` (a residential group's name).
pub(crate) fn task_title(rng: &mut SplitMix64, kind: TaskKind, place: &str) -> String {
    let templates: &[&str] = match kind {
        TaskKind::VneidActivation => &[
            "Kích hoạt tài khoản định danh điện tử mức 2",
            "Hỗ trợ người dân cài đặt và kích hoạt VNeID",
            "Kích hoạt VNeID cho người cao tuổi",
        ],
        TaskKind::OnlinePublicService => &[
            "Hướng dẫn nộp hồ sơ dịch vụ công trực tuyến",
            "Hỗ trợ đăng ký khai sinh, thường trú trực tuyến",
        ],
        TaskKind::CashlessPayment => &[
            "Mở tài khoản thanh toán, ví điện tử cho người dân",
            "Vận động thanh toán không dùng tiền mặt tại chợ",
        ],
        TaskKind::EcommerceOnboarding => &[
            "Đưa sản phẩm địa phương lên Voso, Postmart",
            "Hướng dẫn hộ kinh doanh bán hàng trực tuyến",
        ],
        TaskKind::AppInstall => &[
            "Cài đặt ứng dụng Danang Smart City",
            "Cài đặt ứng dụng Sổ sức khỏe điện tử",
        ],
        TaskKind::DigitalSkillsTraining => {
            &["Tập huấn kỹ năng số cơ bản", "Lớp Bình dân học vụ số"]
        }
        TaskKind::OnlineSafety => &[
            "Tuyên truyền phòng chống lừa đảo trực tuyến",
            "Hướng dẫn bảo vệ thông tin cá nhân trên mạng",
        ],
        TaskKind::Communication => &[
            "Truyền thông chuyển đổi số qua loa phát thanh",
            "Chia sẻ tin tức chuyển đổi số trên nhóm Zalo",
        ],
        TaskKind::Survey => &[
            "Khảo sát hộ gia đình có điện thoại thông minh",
            "Rà soát, làm sạch dữ liệu dân cư",
        ],
        TaskKind::Other => &[
            "Hỗ trợ ngày hội chuyển đổi số",
            "Hỗ trợ người dân tại bộ phận một cửa",
        ],
    };
    format!("{} – {place}", rng.pick(templates))
}

/// Short notes a member might add to a field report.
pub(crate) const NOTES: &[&str] = &[
    "Hỗ trợ tại nhà văn hóa tổ dân phố.",
    "Đến tận nhà hỗ trợ người cao tuổi.",
    "Người dân phấn khởi, đề nghị tổ chức thêm buổi.",
    "Một số người chưa mang điện thoại, hẹn lại lần sau.",
    "Phối hợp với công an khu vực.",
    "Tổ chức lồng ghép trong buổi sinh hoạt khu dân cư.",
    "Mạng yếu, phải hỗ trợ lại vào buổi tối.",
    "Hỗ trợ tiểu thương tại chợ.",
];

#[cfg(test)]
mod tests {
    use super::*;
    use cdtg_core::text::nfc;

    #[test]
    fn every_profile_has_products_and_literals_are_nfc() {
        for profile in [Profile::Urban, Profile::Coastal, Profile::Rural] {
            assert!(products_for(profile).len() >= 15);
        }
        for p in PRODUCTS {
            for s in [p.name, p.category, p.sale_unit] {
                assert_eq!(nfc(s), s);
                assert!(s.chars().count() <= 50);
            }
        }
        for s in NOTES.iter().chain(COOPERATIVES).chain(COMPANIES) {
            assert_eq!(nfc(s), *s);
        }
    }

    #[test]
    fn titles_name_the_place() {
        let mut rng = SplitMix64::new(3);
        for kind in TaskKind::ALL {
            let title = task_title(&mut rng, kind, "Tổ dân phố 7");
            assert!(title.ends_with("– Tổ dân phố 7"));
            assert_eq!(nfc(&title), title);
        }
    }
}
