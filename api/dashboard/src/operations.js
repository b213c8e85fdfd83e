// Every GraphQL operation the dashboard sends, generated from indicators.js. build.mjs hashes
// them (SHA-256, the automatic-persisted-query key), gives the bundle `{ name: { query, hash } }`
// and writes operations.json (`{ hash: query }`), which the server merges into its allow-list.
// Each query asks for what the page shows and nothing more.
import { INDICATORS, TABLE_INDICATORS, TREND_INDICATORS, selection } from './indicators.js';

const fields = (list) => list.map(selection).join(' ');

const TASK_FIELDS = 'totalCount nodes { title status dueOn group { name } }';

export const OPERATIONS = {
  Login: `mutation DashboardLogin($input: LoginInput!) {
  login(input: $input) { accessToken refreshToken expiresAt mustChangePassword }
}`,
  Refresh: `mutation DashboardRefresh($input: RefreshTokenInput!) {
  refreshToken(input: $input) { accessToken refreshToken expiresAt mustChangePassword }
}`,
  Logout: `mutation DashboardLogout($input: LogoutInput) {
  logout(input: $input) { revoked }
}`,
  Me: `query DashboardMe {
  me { username role scopeUnit { id name } }
}`,
  // The unit with its indicators and targets, and the child-unit table: one request.
  Unit: `query DashboardUnit($unit: ID!, $period: PeriodInput) {
  adminUnit(id: $unit) {
    id name kind
    ancestors { id name }
    stats(period: $period) {
      ${fields(INDICATORS)}
      targets { indicator periodStart periodEnd target actual progress }
    }
  }
  statsBreakdown(unitId: $unit, by: [CHILD_UNIT], period: $period) {
    rows { unit { id name } stats { ${fields(TABLE_INDICATORS)} } }
  }
}`,
  // Weekly and monthly series of the activity indicators: one request.
  Trends: `query DashboardTrends($unit: ID!, $weeks: PeriodInput!, $months: PeriodInput!) {
  weekly: statsBreakdown(unitId: $unit, by: [WEEK], period: $weeks) {
    rows { week stats { ${fields(TREND_INDICATORS)} } }
  }
  monthly: statsBreakdown(unitId: $unit, by: [MONTH], period: $months) {
    rows { month stats { ${fields(TREND_INDICATORS)} } }
  }
}`,
  // Tasks that need someone to act: for the roles that read tasks (not VIEWER).
  Tasks: `query DashboardTasks($unit: ID!) {
  overdue: tasks(filter: { unitId: $unit, overdue: true }, orderBy: { field: DUE_ON }, first: 10) { ${TASK_FIELDS} }
  submitted: tasks(filter: { unitId: $unit, status: [SUBMITTED] }, orderBy: { field: DUE_ON }, first: 10) { ${TASK_FIELDS} }
}`,
  // Community groups without a report of work in the last 30 days, found by the server, a
  // page at a time.
  QuietGroups: `query DashboardQuietGroups($unit: ID!, $since: Date!, $after: String) {
  groups(filter: { unitId: $unit, kind: COMMUNITY, noActivitySince: $since }, first: 100, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { name unit { name } }
  }
}`,
};
