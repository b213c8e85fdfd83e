// The programme's indicators: the one place to add one. Each entry says
//   key        the UnitStats field (or alias) the dashboard reads;
//   select     the GraphQL selection when it is not the plain field (an alias with arguments);
//   target     the TargetIndicator whose targets it is measured against, if any;
//   rate       a fraction 0–1 shown as a percentage (otherwise a count);
//   table      also a column of the child-unit table;
//   order      the StatsOrderField the server could sort by (documentation only: the table
//              sorts what it has);
//   vi / en    labels.
// The GraphQL operations are generated from this list at build time (operations.js), so a new
// indicator is one line here once the API offers its field.
export const INDICATORS = [
  { key: 'groups', target: 'GROUPS', table: true, vi: 'Tổ công nghệ số', en: 'Community groups' },
  { key: 'activeGroups', target: 'ACTIVE_GROUPS', vi: 'Tổ đang hoạt động', en: 'Active groups' },
  { key: 'members', target: 'MEMBERS', table: true, vi: 'Thành viên', en: 'Members' },
  { key: 'trainedMembers', target: 'TRAINED_MEMBERS', vi: 'Thành viên đã tập huấn', en: 'Trained members' },
  { key: 'tasksDone', select: 'tasksDone: tasks(status: DONE)', target: 'TASKS_DONE', table: true, vi: 'Nhiệm vụ hoàn thành', en: 'Tasks done' },
  { key: 'tasksOverdue', table: true, vi: 'Nhiệm vụ quá hạn', en: 'Overdue tasks', bad: true },
  { key: 'taskCompletionRate', target: 'TASK_COMPLETION_RATE', rate: true, table: true, vi: 'Tỷ lệ hoàn thành nhiệm vụ', en: 'Task completion rate' },
  { key: 'activities', target: 'ACTIVITIES', table: true, trend: true, vi: 'Buổi hỗ trợ', en: 'Field activities' },
  { key: 'residentsHelped', target: 'RESIDENTS_HELPED', table: true, trend: true, vi: 'Lượt người dân được hỗ trợ', en: 'Residents helped' },
  { key: 'vneidActivations', target: 'VNEID_ACTIVATIONS', table: true, trend: true, vi: 'Tài khoản VNeID kích hoạt', en: 'VNeID activations' },
  { key: 'onlineDossiersSubmitted', target: 'ONLINE_DOSSIERS_SUBMITTED', vi: 'Hồ sơ dịch vụ công trực tuyến', en: 'Online public-service dossiers' },
  { key: 'cashlessAccountsOpened', target: 'CASHLESS_ACCOUNTS_OPENED', vi: 'Tài khoản thanh toán không dùng tiền mặt', en: 'Cashless accounts opened' },
  { key: 'ecommerceAccountsCreated', target: 'ECOMMERCE_ACCOUNTS_CREATED', vi: 'Tài khoản thương mại điện tử', en: 'E-commerce accounts' },
  { key: 'peopleTrained', target: 'PEOPLE_TRAINED', vi: 'Người dân được tập huấn kỹ năng số', en: 'Residents trained in digital skills' },
  { key: 'products', target: 'PRODUCTS', vi: 'Sản phẩm địa phương', en: 'Local products' },
  { key: 'activeListings', target: 'ACTIVE_LISTINGS', vi: 'Gian hàng đang bán', en: 'Active listings' },
  { key: 'internetRate', target: 'INTERNET_RATE', rate: true, vi: 'Hộ có Internet', en: 'Households online' },
  { key: 'computerRate', target: 'COMPUTER_RATE', rate: true, vi: 'Hộ có máy tính', en: 'Households with a computer' },
  { key: 'smartphoneRate', target: 'SMARTPHONE_RATE', rate: true, vi: 'Hộ có điện thoại thông minh', en: 'Households with a smartphone' },
  { key: 'fiveSkillsRate', target: 'FIVE_SKILLS_RATE', rate: true, vi: 'Hộ thạo 5 kỹ năng số', en: 'Households with the five skills' },
];

export const TABLE_INDICATORS = INDICATORS.filter((i) => i.table);
export const TREND_INDICATORS = INDICATORS.filter((i) => i.trend);

/** The selection of one indicator inside `stats { … }`. */
export const selection = (indicator) => indicator.select || indicator.key;

/** The indicator a target measures (undefined for a target the dashboard does not know yet). */
export const byTarget = (target) => INDICATORS.find((i) => i.target === target);
