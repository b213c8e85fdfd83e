// Kotlin tests of the cdtg-core bindings on the desktop JVM (run by android/test.sh).
//
// A tiny runner instead of JUnit keeps the script dependency-free: each `test` runs one named
// check, prints ok/FAIL, and the last line is "N passed, M failed" (exit status 1 on failures).

import vn.cdtg.core.*
import java.nio.file.Files
import java.nio.file.Path
import kotlin.system.exitProcess

var passed = 0
var failed = 0

fun test(name: String, body: () -> Unit) {
    try {
        body()
        passed++
        println("ok   $name")
    } catch (t: Throwable) {
        failed++
        println("FAIL $name: $t")
    }
}

fun check(condition: Boolean, message: () -> String) {
    if (!condition) throw AssertionError(message())
}

fun <T> eq(actual: T, expected: T, what: String = "") {
    if (actual != expected) throw AssertionError("$what: expected <$expected> but was <$actual>")
}

inline fun <reified E : Throwable> throws(block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("expected ${E::class.simpleName} but got $e")
    }
    throw AssertionError("expected ${E::class.simpleName} but nothing was thrown")
}

val tmp: Path = Files.createTempDirectory("cdtg-kotlin-test")
var dbCounter = 0
fun freshDb(): String = tmp.resolve("outbox-${dbCounter++}.sqlite").toString()

val T0 = 1_751_328_000_000L // 2025-07-01T00:00:00Z: the injected clock

fun draft(taskId: String = "T1") = ReportDraft(
    taskId = taskId,
    occurredAtMs = T0 + 9_000_000L,
    residentsHelped = 12L,
    outcomes = listOf(OutcomeCount(OutcomeKind.VNEID_ACTIVATED, 3L), OutcomeCount(OutcomeKind.VNEID_COLLECTED, 5L)),
    note = "  Nhà văn hoá tổ 5  ",
)

fun ack(activityId: String) =
    """{"data":{"reportActivity":{"activity":{"id":"$activityId"},"task":{"id":"T1","progress":3}}}}"""

fun gqlError(code: String, field: String? = null): String {
    val f = if (field == null) "" else ""","field":"$field""""
    return """{"data":null,"errors":[{"message":"refused by server","extensions":{"code":"$code"$f}}]}"""
}

fun cachedTask(id: String, title: String, status: TaskStatus) = CachedTask(
    id = id, title = title, kind = TaskKind.VNEID_ACTIVATION, status = status, priority = TaskPriority.HIGH,
    dueOn = "2025-07-31", target = 50L, progress = 0L, version = 1L, groupId = "G1",
    groupName = "Tổ công nghệ số Phước Mỹ",
)

// ---- validation -------------------------------------------------------------------------------

test("validation error arrives as a Kotlin exception with code and field") {
    val e = throws<CdtgException.Invalid> { validatePhone("phone", "0236 3822 123") }
    eq(e.code, "BAD_USER_INPUT", "code")
    eq(e.field, "phone", "field")
    check(e.reason.isNotBlank()) { "reason is empty" }
    check(e is Exception) { "not an exception" }
}

test("phone numbers normalise to +84") {
    eq(validatePhone("phone", "0905 123 456"), "+84905123456")
    eq(validatePhone("phone", "+84 (0)905-123-456"), "+84905123456")
    eq(validatePhone("phone", "0084.389.123.456"), "+84389123456")
}

test("report validation names the GraphQL input field") {
    val max = defaultMaxResidentsPerSession()
    eq(max, 500L, "default max")
    eq(throws<CdtgException.Invalid> { validateReport("short", 1, emptyList(), null, max) }.field, "idempotencyKey")
    eq(throws<CdtgException.Invalid> { validateReport("abcdefgh", 501, emptyList(), null, max) }.field, "residentsHelped")
    val twice = listOf(OutcomeCount(OutcomeKind.APP_INSTALLED, 1), OutcomeCount(OutcomeKind.APP_INSTALLED, 2))
    eq(throws<CdtgException.Invalid> { validateReport("abcdefgh", 1, twice, null, max) }.field, "outcomes")
    eq(throws<CdtgException.Invalid> { validateReport("abcdefgh", 1, emptyList(), "x".repeat(2001), max) }.field, "note")
    eq(validateReport("abcdefgh", 1, emptyList(), "  ghi chú ", max), "ghi chú")
}

test("folding is accent- and case-insensitive") {
    eq(fold("Nguyễn Văn Chung"), "nguyen van chung")
    eq(fold("  PHƯỚC   Mỹ "), "phuoc my")
    eq(fold("Đà Nẵng"), "da nang")
    eq(fold("Nguye\u0302\u0303n"), fold("Nguyễn"), "decomposed input")
}

test("progress counts activated VNeID accounts, not collected ones") {
    val outcomes = listOf(OutcomeCount(OutcomeKind.VNEID_COLLECTED, 7), OutcomeCount(OutcomeKind.VNEID_ACTIVATED, 3))
    eq(progressDelta(TaskKind.VNEID_ACTIVATION, 12, outcomes), 3L)
    eq(progressDelta(TaskKind.COMMUNICATION, 12, outcomes), 12L)
}

// ---- policy -----------------------------------------------------------------------------------

test("policy: role table") {
    check(allows(Role.CITY_ADMIN, Action.MANAGE_USERS)) { "city admin manages users" }
    check(allows(Role.MEMBER, Action.REPORT_ACTIVITY)) { "member reports" }
    check(!allows(Role.MEMBER, Action.CREATE_TASK)) { "member creates tasks" }
    check(allows(Role.GROUP_LEADER, Action.MANAGE_LISTINGS)) { "leader manages listings" }
    check(!allows(Role.VIEWER, Action.READ_PERSONAL_DATA)) { "viewer reads personal data" }
    check(allows(Role.VIEWER, Action.READ_AGGREGATES)) { "viewer reads aggregates" }
    check(allows(Role.DISTRICT_OFFICER, Action.CREATE_TASK)) { "officer creates tasks" }
    check(!allows(Role.DISTRICT_OFFICER, Action.MANAGE_GROUPS)) { "officer manages groups" }
    val auditors = Role.values().filter { allows(it, Action.READ_AUDIT) }
    eq(auditors, listOf(Role.CITY_ADMIN, Role.WARD_LEADER), "audit readers")
    eq(Action.values().count { allows(Role.VIEWER, it) }, 3, "viewer actions")
}

test("policy: nobody grants a role at or above their own") {
    val grants = Role.values().associateWith { actor -> Role.values().filter { canGrant(actor, it) } }
    eq(grants[Role.CITY_ADMIN], listOf(Role.DISTRICT_OFFICER, Role.WARD_LEADER, Role.GROUP_LEADER, Role.MEMBER, Role.VIEWER))
    eq(grants[Role.DISTRICT_OFFICER], listOf(Role.WARD_LEADER, Role.GROUP_LEADER, Role.MEMBER, Role.VIEWER))
    eq(grants[Role.WARD_LEADER], listOf(Role.GROUP_LEADER, Role.MEMBER))
    for (r in listOf(Role.GROUP_LEADER, Role.MEMBER, Role.VIEWER)) eq(grants[r], emptyList<Role>(), r.name)
}

// ---- task state machine -----------------------------------------------------------------------

val legal = mapOf(
    (TaskStatus.OPEN to TaskAction.START) to TaskStatus.IN_PROGRESS,
    (TaskStatus.IN_PROGRESS to TaskAction.SUBMIT) to TaskStatus.SUBMITTED,
    (TaskStatus.SUBMITTED to TaskAction.COMPLETE) to TaskStatus.DONE,
    (TaskStatus.SUBMITTED to TaskAction.SEND_BACK) to TaskStatus.IN_PROGRESS,
    (TaskStatus.OPEN to TaskAction.CANCEL) to TaskStatus.CANCELLED,
    (TaskStatus.IN_PROGRESS to TaskAction.CANCEL) to TaskStatus.CANCELLED,
    (TaskStatus.SUBMITTED to TaskAction.CANCEL) to TaskStatus.CANCELLED,
    (TaskStatus.DONE to TaskAction.REOPEN) to TaskStatus.IN_PROGRESS,
    (TaskStatus.CANCELLED to TaskAction.REOPEN) to TaskStatus.OPEN,
)

test("every legal task transition (9)") {
    for ((edge, to) in legal) eq(transitionTask(Role.WARD_LEADER, edge.first, edge.second), to, "$edge")
}

test("every illegal task transition (21) is BAD_USER_INPUT on action naming the state") {
    var n = 0
    for (from in TaskStatus.values()) for (action in TaskAction.values()) {
        if ((from to action) in legal) continue
        val e = throws<CdtgException.Invalid> { transitionTask(Role.CITY_ADMIN, from, action) }
        eq(e.code, "BAD_USER_INPUT", "$from $action code")
        eq(e.field, "action", "$from $action field")
        check(e.reason.contains(from.name)) { "'${e.reason}' does not name $from" }
        n++
    }
    eq(n, 21, "illegal pairs")
}

test("group roles move tasks only up to SUBMITTED; others are FORBIDDEN") {
    eq(transitionTask(Role.MEMBER, TaskStatus.OPEN, TaskAction.START), TaskStatus.IN_PROGRESS)
    eq(transitionTask(Role.GROUP_LEADER, TaskStatus.IN_PROGRESS, TaskAction.SUBMIT), TaskStatus.SUBMITTED)
    for (action in listOf(TaskAction.COMPLETE, TaskAction.SEND_BACK, TaskAction.CANCEL, TaskAction.REOPEN)) {
        eq(throws<CdtgException.Forbidden> { transitionTask(Role.MEMBER, TaskStatus.SUBMITTED, action) }.code, "FORBIDDEN")
    }
    throws<CdtgException.Forbidden> { transitionTask(Role.VIEWER, TaskStatus.OPEN, TaskAction.START) }
    eq(availableTaskActions(Role.WARD_LEADER, TaskStatus.SUBMITTED), listOf(TaskAction.SEND_BACK, TaskAction.COMPLETE, TaskAction.CANCEL))
    check(!acceptsActivity(TaskStatus.DONE) && acceptsActivity(TaskStatus.SUBMITTED)) { "acceptsActivity" }
}

// ---- outbox -----------------------------------------------------------------------------------

test("outbox: record, close, reopen, batch, acknowledge, empty") {
    val path = freshDb()
    val key = Outbox.open(path).use { it.recordReport(draft()).key }
    Outbox.open(path).use { outbox ->
        eq(outbox.schemaVersion(), 1L, "schema version")
        eq(outbox.counts(), OutboxCounts(pending = 1uL, refused = 0uL, acknowledged = 0uL))
        val batch = outbox.nextSyncBatch(10u, T0)
        eq(batch.map { it.key }, listOf(key), "batch")
        val body = batch[0].body
        for (part in listOf(
            "mutation ReportActivity(\$input: ReportActivityInput!)", "\"idempotencyKey\":\"$key\"",
            "\"taskId\":\"T1\"", "\"occurredAt\":\"2025-07-01T02:30:00.000Z\"", "\"residentsHelped\":12",
            "\"kind\":\"VNEID_ACTIVATED\"", "\"count\":3", "\"note\":\"Nhà văn hoá tổ 5\"",
        )) check(body.contains(part)) { "body lacks $part: $body" }
        val done = outbox.applySyncResponse(key, 200, ack("QWN0aXZpdHk6MQ=="), T0)
        eq(done.state, ReportState.ACKNOWLEDGED)
        eq(done.serverActivityId, "QWN0aXZpdHk6MQ==")
    }
    Outbox.open(path).use { outbox ->
        eq(outbox.nextSyncBatch(10u, Long.MAX_VALUE), emptyList<SyncRequest>(), "batch after ack")
        eq(outbox.pending(), emptyList<StoredReport>(), "pending")
        eq(outbox.acknowledged().map { it.key }, listOf(key), "acknowledged")
    }
}

test("outbox: idempotency key unchanged across restarts and retries") {
    val path = freshDb()
    val recorded = Outbox.open(path).use { it.recordReport(draft()) }
    val first = Outbox.open(path).use { ob ->
        val body = ob.nextSyncBatch(1u, T0).single().body
        ob.recordSyncFailure(recorded.key, T0) // the response was lost
        body
    }
    Outbox.open(path).use { ob ->
        val again = ob.nextSyncBatch(1u, Long.MAX_VALUE).single()
        eq(again.key, recorded.key, "key")
        eq(again.body, first, "identical body on resend")
        eq(ob.report(recorded.key)?.key, recorded.key, "stored key")
    }
}

test("outbox: a refused report is kept with its reason and never resent") {
    val path = freshDb()
    Outbox.open(path).use { ob ->
        val key = ob.recordReport(draft()).key
        val r = ob.applySyncResponse(key, 200, gqlError("BAD_USER_INPUT", "residentsHelped"), T0)
        eq(r.state, ReportState.REFUSED)
    }
    Outbox.open(path).use { ob ->
        val refused = ob.refused().single()
        eq(refused.refusal, Refusal(code = "BAD_USER_INPUT", field = "residentsHelped", message = "refused by server"))
        eq(ob.nextSyncBatch(10u, Long.MAX_VALUE).size, 0, "resent")
        eq(ob.counts().refused, 1uL)
    }
}

test("outbox: CONFLICT, FORBIDDEN and NOT_FOUND refuse; INTERNAL and 5xx retry") {
    Outbox.open(freshDb()).use { ob ->
        for (code in listOf("CONFLICT", "FORBIDDEN", "NOT_FOUND")) {
            val key = ob.recordReport(draft()).key
            eq(ob.applySyncResponse(key, 200, gqlError(code), T0).refusal?.code, code)
        }
        for ((status, body) in listOf(200 to gqlError("INTERNAL"), 200 to gqlError("UNAUTHENTICATED"), 502 to "<html>")) {
            val key = ob.recordReport(draft()).key
            val r = ob.applySyncResponse(key, status, body, T0)
            eq(r.state, ReportState.PENDING, body)
            eq(r.attempts, 1u, body)
        }
    }
}

test("outbox: retry honours back-off with an injected clock") {
    eq(backoffMs(0u), 0uL)
    eq(backoffMs(1u), 5_000uL)
    eq(backoffMs(2u), 10_000uL)
    eq(backoffMs(30u), 1_800_000uL, "cap")
    Outbox.open(freshDb()).use { ob ->
        val key = ob.recordReport(draft()).key
        val r1 = ob.applySyncResponse(key, 503, "Service Unavailable", T0)
        val due1 = T0 + retryDelayMs(key, 1u).toLong()
        eq(r1.nextAttemptAtMs, due1, "first due time")
        check(due1 - T0 >= 5_000) { "waits at least 5 s" }
        eq(ob.nextSyncBatch(10u, due1 - 1).size, 0, "before due")
        eq(ob.nextSyncBatch(10u, due1).size, 1, "at due")
        val r2 = ob.recordSyncFailure(key, due1)
        eq(r2.attempts, 2u)
        eq(r2.nextAttemptAtMs, due1 + retryDelayMs(key, 2u).toLong(), "second due time")
        check(r2.nextAttemptAtMs - due1 > due1 - T0) { "back-off grows" }
        eq(ob.applySyncResponse(key, 200, ack("A1"), r2.nextAttemptAtMs).state, ReportState.ACKNOWLEDGED)
    }
}

test("outbox: an invalid draft throws and stores nothing") {
    Outbox.open(freshDb()).use { ob ->
        val e = throws<CdtgException.Invalid> { ob.recordReport(draft().copy(residentsHelped = -1)) }
        eq(e.field, "residentsHelped")
        ob.cacheTasks(listOf(cachedTask("T9", "Đã xong", TaskStatus.DONE)))
        eq(throws<CdtgException.Invalid> { ob.recordReport(draft("T9")) }.field, "taskId")
        eq(ob.counts(), OutboxCounts(0uL, 0uL, 0uL))
    }
}

test("outbox: cached tasks survive restarts and search without accents") {
    val path = freshDb()
    Outbox.open(path).use {
        it.cacheTasks(listOf(
            cachedTask("T1", "Kích hoạt VNeID khu Đà Sơn", TaskStatus.IN_PROGRESS),
            cachedTask("T2", "Hướng dẫn thanh toán không dùng tiền mặt", TaskStatus.OPEN),
        ))
    }
    Outbox.open(path).use { ob ->
        eq(ob.cachedTasks(null).map { it.id }, listOf("T1", "T2"), "all")
        eq(ob.cachedTasks("da son").map { it.id }, listOf("T1"), "da son")
        eq(ob.cachedTasks("TIEN MAT").map { it.id }, listOf("T2"), "tien mat")
        eq(ob.cachedTasks("phuoc my").size, 2, "group name")
        eq(ob.cachedTasks("hoi an").size, 0, "no match")
        eq(ob.cachedTasks(null)[0], cachedTask("T1", "Kích hoạt VNeID khu Đà Sơn", TaskStatus.IN_PROGRESS), "round trip")
    }
}

test("outbox: an unknown key is NOT_FOUND and a bad path is STORAGE") {
    Outbox.open(freshDb()).use { ob ->
        eq(throws<CdtgException.NotFound> { ob.recordSyncFailure("no-such-key", T0) }.code, "NOT_FOUND")
    }
    eq(throws<CdtgException.Storage> { Outbox.open(tmp.toString()) }.code, "STORAGE")
}

tmp.toFile().deleteRecursively()
println("$passed passed, $failed failed")
exitProcess(if (failed == 0) 0 else 1)
