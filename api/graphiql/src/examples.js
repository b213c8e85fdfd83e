// The tabs GraphiQL opens with: one per role's typical questions. They are defaults only:
// once a user edits tabs, GraphiQL keeps its own state in the browser's storage.

const cityAdmin = `# City admin (CITY_ADMIN): the city at a glance.
# Sign in above (or paste a token), then press the run button (Ctrl-Enter).
query CityDashboard {
  me { username role scopeUnit { name } }
  adminUnits(first: 20) {
    totalCount
    nodes { id name kind depth }
  }
  groups(first: 10) {
    totalCount
    nodes { id name kind status unit { name } leader { fullName } }
  }
  overdue: tasks(filter: { overdue: true }, first: 10) {
    totalCount
    nodes { id title dueOn progress target group { name } }
  }
  auditEvents(first: 10) {
    nodes { occurredAt actor action objectType outcome detail }
  }
}
`;

const wardLeader = `# Ward leader (WARD_LEADER): the ward's groups and what they still have to do.
query WardGroupsAndTasks {
  me { username role scopeUnit { id name } }
  groups(first: 20) {
    totalCount
    nodes {
      id
      name
      kind
      leader { fullName phone }
      members(first: 5) { totalCount nodes { fullName } }
      openTasks: tasks(filter: { status: [OPEN, IN_PROGRESS] }, first: 5) {
        totalCount
        nodes { id title status priority dueOn overdue progress target }
      }
    }
  }
  overdue: tasks(filter: { overdue: true }, first: 20) {
    totalCount
    nodes { id title dueOn group { name } assignee { fullName } }
  }
}
`;

const groupLeaderTasks = `# Group leader (GROUP_LEADER): my group's tasks; copy a task id into the
# "Report activity" tab to record a field session.
query MyGroupTasks {
  me { username role scopeGroup { id name } }
  tasks(filter: { status: [OPEN, IN_PROGRESS] }, first: 20) {
    nodes { id title kind status dueOn progress target version }
  }
}
`;

const reportActivity = `# Group leader (GROUP_LEADER): report one field session on a task.
# Set taskId in the variables below. Retrying with the same idempotencyKey is safe:
# the original result comes back and nothing new is stored ("created": false).
mutation ReportActivity($input: ReportActivityInput!) {
  reportActivity(input: $input) {
    created
    activity { id occurredAt residentsHelped outcomes { kind count } note }
    task { id title progress target status }
  }
}
`;

const reportActivityVariables = `{
  "input": {
    "idempotencyKey": "graphiql-example-1",
    "taskId": "PASTE-A-TASK-ID",
    "occurredAt": "2026-01-15T09:30:00+07:00",
    "residentsHelped": 12,
    "outcomes": [{ "kind": "VNEID_ACTIVATED", "count": 8 }],
    "note": "Hỗ trợ kích hoạt VNeID tại nhà văn hoá"
  }
}
`;

const viewer = `# Viewer (VIEWER): local products and where they are sold.
query Products {
  products(first: 20) {
    totalCount
    nodes {
      id
      name
      category
      producer
      saleUnit
      ocopStars
      listings { platform url status listedOn }
    }
  }
}
`;

const subscription = `# Live task events (any signed-in role, within its scope). Run it, then change a
# task (e.g. reportActivity in another tab): events appear in the result pane.
# Pass groupId to follow a single group.
subscription TaskEvents {
  taskEvents {
    kind
    task { id title status progress target group { name } }
  }
}
`;

const login = `# Sign in without the form above: run this, copy accessToken into the token field.
mutation Login($input: LoginInput!) {
  login(input: $input) {
    accessToken
    expiresAt
    user { username role }
  }
}
`;

export const defaultTabs = [
  { query: cityAdmin },
  { query: wardLeader },
  { query: groupLeaderTasks },
  { query: reportActivity, variables: reportActivityVariables },
  { query: viewer },
  { query: subscription },
  { query: login, variables: '{\n  "input": { "username": "admin", "password": "" }\n}\n' },
];
