// End-to-end sync test: plays the phone against a running CDTG server (run by android/test.sh when
// CDTG_E2E_URL is set; the cargo test tests/api/android.rs starts the server and sets everything).
//
// The phone is the real one minus the UI: the generated Kotlin bindings over the Rust core (the
// Outbox on SQLite, the core's validation and progress rules) and a plain JDK HTTP client. The
// story: log in, pull the member's tasks into the offline cache, lose the network, record field
// reports (and try to send them: every attempt fails), restart the app, come back online, sync —
// with one answer lost on the way — then resend the whole batch as if every answer had been lost,
// and check on the server that each report counted exactly once and that the refused ones were
// refused with the server's code and stored nothing.
//
// Environment:
//   CDTG_E2E_URL               server base URL (requests go to $CDTG_E2E_URL/graphql)   required
//   CDTG_E2E_USERNAME/PASSWORD a MEMBER or GROUP_LEADER account                        required
//   CDTG_E2E_TASK_ID           the task to report on (default: the first task of the pulled list
//                              that still takes reports)
//   CDTG_E2E_FOREIGN_TASK_ID   a task this account cannot see (default: a made-up task id); the
//                              report on it must be refused with NOT_FOUND
//   CDTG_E2E_MAX_RESIDENTS     the server's residents-per-session maximum, when it is configured
//                              below the phone's (500): a report above it must be refused with
//                              BAD_USER_INPUT on residentsHelped. Unset: that case is skipped.
//   CDTG_E2E_OUTBOX            outbox file to use and keep (default: a temporary file, deleted)
//
// Same tiny runner as src/test/CoreTest.kts. The tests build on each other (one story), so after
// the first failure the rest are reported as failed too rather than run on a broken state.

import vn.cdtg.core.*
import java.io.IOException
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.time.Duration
import java.util.Base64
import kotlin.system.exitProcess

var passed = 0
var failed = 0
var broken: String? = null

fun test(name: String, body: () -> Unit) {
    val reason = broken
    if (reason != null) {
        failed++
        println("FAIL $name: not run, an earlier step failed ($reason)")
        return
    }
    try {
        body()
        passed++
        println("ok   $name")
    } catch (t: Throwable) {
        failed++
        broken = name
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

fun env(name: String): String? = System.getenv(name)?.takeIf { it.isNotBlank() }
fun requireEnv(name: String): String = env(name) ?: run {
    println("FAIL configuration: $name is not set")
    println("0 passed, 1 failed")
    exitProcess(1)
}

// ---- a minimal JSON reader and writer (the phone's HTTP layer; no library on the classpath) ----

class Json(private val s: String) {
    private var i = 0

    fun parse(): Any? {
        val v = value()
        ws()
        if (i != s.length) error("trailing characters at $i")
        return v
    }

    private fun ws() { while (i < s.length && s[i].isWhitespace()) i++ }

    private fun value(): Any? {
        ws()
        if (i >= s.length) error("unexpected end")
        return when (s[i]) {
            '{' -> obj()
            '[' -> arr()
            '"' -> str()
            't' -> lit("true", true)
            'f' -> lit("false", false)
            'n' -> lit("null", null)
            else -> num()
        }
    }

    private fun lit(word: String, v: Any?): Any? {
        if (!s.startsWith(word, i)) error("bad literal at $i")
        i += word.length
        return v
    }

    private fun obj(): Map<String, Any?> {
        val m = LinkedHashMap<String, Any?>()
        i++
        ws()
        if (s[i] == '}') { i++; return m }
        while (true) {
            ws()
            val k = str()
            ws()
            if (s[i++] != ':') error("':' expected at ${i - 1}")
            m[k] = value()
            ws()
            when (s[i++]) {
                ',' -> continue
                '}' -> return m
                else -> error("',' or '}' expected at ${i - 1}")
            }
        }
    }

    private fun arr(): List<Any?> {
        val l = ArrayList<Any?>()
        i++
        ws()
        if (s[i] == ']') { i++; return l }
        while (true) {
            l.add(value())
            ws()
            when (s[i++]) {
                ',' -> continue
                ']' -> return l
                else -> error("',' or ']' expected at ${i - 1}")
            }
        }
    }

    private fun str(): String {
        if (s[i] != '"') error("string expected at $i")
        i++
        val b = StringBuilder()
        while (true) {
            val c = s[i++]
            when (c) {
                '"' -> return b.toString()
                '\\' -> when (val e = s[i++]) {
                    'n' -> b.append('\n'); 't' -> b.append('\t'); 'r' -> b.append('\r')
                    'b' -> b.append('\b'); 'f' -> b.append('\u000c')
                    'u' -> { b.append(s.substring(i, i + 4).toInt(16).toChar()); i += 4 }
                    else -> b.append(e)
                }
                else -> b.append(c)
            }
        }
    }

    private fun num(): Any {
        val start = i
        while (i < s.length && (s[i].isDigit() || s[i] in "+-.eE")) i++
        val t = s.substring(start, i)
        if (t.isEmpty()) error("value expected at $start")
        return t.toLongOrNull() ?: t.toDouble()
    }

    private fun error(msg: String): Nothing = throw IllegalArgumentException("bad JSON ($msg): ${s.take(300)}")
}

fun parseJson(s: String): Any? = Json(s).parse()

/** `at(doc, "data", "tasks", "nodes", 0, "id")`: walks maps by key and lists by index. */
fun at(v: Any?, vararg path: Any): Any? = path.fold(v) { cur, p ->
    when (p) {
        is String -> (cur as? Map<*, *>)?.get(p)
        is Int -> (cur as? List<*>)?.getOrNull(p)
        else -> null
    }
}

fun quote(s: String): String {
    val b = StringBuilder("\"")
    for (c in s) when {
        c == '"' -> b.append("\\\"")
        c == '\\' -> b.append("\\\\")
        c < ' ' -> b.append(String.format("\\u%04x", c.code))
        else -> b.append(c)
    }
    return b.append('"').toString()
}

fun gqlBody(query: String, variables: Map<String, String>): String =
    """{"query":${quote(query)},"variables":{${variables.entries.joinToString(",") { "${quote(it.key)}:${quote(it.value)}" }}}}"""

// ---- the network, with a switch for "no mobile data" and for losing an answer ------------------

// The JDK keeps idle connections for 20 minutes; actix-web closes them after 5 s. A request sent on
// a connection the server is closing fails with "header parser received no bytes". A phone copes
// (the report stays pending and is resent), but this test wants every failure to be one it
// staged, so idle connections are dropped well before the server's limit. Read once, when the
// HTTP client classes load, hence set before the first client is built.
System.setProperty("jdk.httpclient.keepalive.timeout", "2")

class Network(base: String) {
    private val endpoint = URI.create(base.trimEnd('/') + "/graphql")
    private val http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(10))
        .build()
    var online = true
    var token: String? = null
    /** Requests that actually reached the server. */
    var delivered = 0

    /** POSTs a GraphQL body; throws IOException when "offline", as the real stack would. */
    fun post(body: String): Pair<Int, String> {
        if (!online) throw java.net.ConnectException("no network (simulated)")
        val req = HttpRequest.newBuilder(endpoint)
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json")
            .apply { token?.let { header("Authorization", "Bearer $it") } }
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build()
        val res = http.send(req, HttpResponse.BodyHandlers.ofString())
        delivered++
        return res.statusCode() to res.body()
    }

    /**
     * The test's own requests (queries, replays, probes) outside the staged sync: retried once on
     * a transport failure. Safe because every request here is a query or a report carrying its
     * idempotency key — which is the very property under test.
     */
    fun postRetrying(body: String): Pair<Int, String> = try {
        post(body)
    } catch (e: IOException) {
        println("note: transport failure outside the staged ones, retried: $e")
        post(body)
    }

    /** A query that must succeed: returns `data`. */
    fun data(query: String, variables: Map<String, String> = emptyMap()): Any? {
        val (status, body) = postRetrying(gqlBody(query, variables))
        val doc = parseJson(body)
        check(status == 200 && at(doc, "errors") == null) { "HTTP $status: $body" }
        return at(doc, "data")
    }
}

/** One request of a sync as it went over the wire. */
data class Exchange(val key: String, val body: String, val status: Int, val response: String)

/**
 * What the app does whenever it has a network: send every due report and hand each answer to
 * the outbox. An answer "lost" on the way back (`lose`) reached the server but not the phone,
 * which sees only an IOException, exactly like a connection dropped after the request was sent.
 */
fun sync(outbox: Outbox, net: Network, nowMs: Long, lose: Set<String> = emptySet()): List<Exchange> {
    val sent = ArrayList<Exchange>()
    for (req in outbox.nextSyncBatch(50u, nowMs)) {
        try {
            val (status, response) = net.post(req.body)
            sent += Exchange(req.key, req.body, status, response)
            if (req.key in lose) throw IOException("connection reset before the answer arrived (simulated)")
            outbox.applySyncResponse(req.key, status, response, nowMs)
        } catch (e: IOException) {
            outbox.recordSyncFailure(req.key, nowMs)
        }
    }
    return sent
}

/** The same request with `created` added to the selection: the server says whether it stored anything. */
fun withCreated(body: String): String {
    val probe = body.replace("reportActivity(input: \$input) {", "reportActivity(input: \$input) { created")
    check(probe != body) { "the outbox's mutation text changed; update withCreated: $body" }
    return probe
}

fun <T : Enum<T>> enumOf(values: Array<T>, name: Any?, what: String): T =
    values.firstOrNull { it.name == name } ?: throw AssertionError("unknown $what <$name>")

fun long(v: Any?): Long = (v as? Long) ?: throw AssertionError("number expected, got <$v>")

// ---- the story -------------------------------------------------------------------------------

val baseUrl = requireEnv("CDTG_E2E_URL")
val username = requireEnv("CDTG_E2E_USERNAME")
val password = requireEnv("CDTG_E2E_PASSWORD")
val maxResidents = env("CDTG_E2E_MAX_RESIDENTS")?.toLong()
// Global ids are base64url("Task:<row>"); a row that does not exist is as invisible as a task of
// another ward (the server does not tell them apart), so it is a fair default.
val foreignTaskId = env("CDTG_E2E_FOREIGN_TASK_ID")
    ?: Base64.getUrlEncoder().withoutPadding().encodeToString("Task:987654321".toByteArray())
val tmp: Path = Files.createTempDirectory("cdtg-e2e")
val outboxPath = env("CDTG_E2E_OUTBOX") ?: tmp.resolve("outbox.sqlite").toString()
println("phone: $username against $baseUrl, outbox $outboxPath")

val net = Network(baseUrl)
var clock = System.currentTimeMillis() // the app's clock, advanced by hand to skip back-off waits

val TASKS = "query { tasks(filter: { status: [OPEN, IN_PROGRESS, SUBMITTED] }, first: 100) { nodes { " +
    "id title kind status priority dueOn target progress version group { id name } activities { totalCount } } } }"
val TASK = "query(\$id: ID!) { node(id: \$id) { ... on Task { id progress " +
    "activities(first: 100) { totalCount nodes { id idempotencyKey } } } } }"

lateinit var task: CachedTask
var progressBefore = 0L
var activitiesBefore = 0L

/** A report recorded offline, with what the server should make of it. */
data class Planned(val key: String, val draft: ReportDraft, val refusedWith: String?, val field: String? = null)
val planned = ArrayList<Planned>()
val offlineBodies = HashMap<String, String>()
var lostKey = ""
var firstSync: List<Exchange> = emptyList()
val activityIdByKey = HashMap<String, String>()

fun outbox() = Outbox.open(outboxPath)

test("e2e: log in as the member") {
    val data = net.data(
        "mutation(\$u: String!, \$p: String!) { login(input: { username: \$u, password: \$p }) { accessToken } }",
        mapOf("u" to username, "p" to password),
    )
    val token = at(data, "login", "accessToken") as? String
    check(!token.isNullOrBlank()) { "no access token: $data" }
    net.token = token
}

test("e2e: pull the member's tasks into the offline cache") {
    val nodes = at(net.data(TASKS), "tasks", "nodes") as List<*>
    check(nodes.isNotEmpty()) { "the member sees no open task" }
    val tasks = nodes.map { n ->
        CachedTask(
            id = at(n, "id") as String,
            title = at(n, "title") as String,
            kind = enumOf(TaskKind.values(), at(n, "kind"), "kind"),
            status = enumOf(TaskStatus.values(), at(n, "status"), "status"),
            priority = enumOf(TaskPriority.values(), at(n, "priority"), "priority"),
            dueOn = at(n, "dueOn") as String?,
            target = at(n, "target") as Long?,
            progress = long(at(n, "progress")),
            version = long(at(n, "version")),
            groupId = at(n, "group", "id") as String,
            groupName = at(n, "group", "name") as String,
        )
    }
    outbox().use { it.cacheTasks(tasks) }
    val wanted = env("CDTG_E2E_TASK_ID")
    task = outbox().use { ob ->
        eq(ob.cachedTasks(null).map { it.id }, tasks.map { it.id }, "cached ids")
        if (wanted != null) ob.cachedTasks(null).firstOrNull { it.id == wanted } ?: throw AssertionError("task $wanted not pulled")
        else ob.cachedTasks(null).first { acceptsActivity(it.status) }
    }
    check(acceptsActivity(task.status)) { "task ${task.id} is ${task.status}" }
    check(tasks.none { it.id == foreignTaskId }) { "the member can see the foreign task $foreignTaskId" }
    // Offline search, accent-insensitive: the folded, upper-cased title still finds the task.
    val search = fold(task.title).uppercase()
    outbox().use { ob -> check(ob.cachedTasks(search).any { it.id == task.id }) { "search '$search' misses ${task.title}" } }
    progressBefore = task.progress
    activitiesBefore = long(at(nodes.first { at(it, "id") == task.id }, "activities", "totalCount"))
}

test("e2e: offline, reports are validated and recorded; sending fails and keeps them") {
    net.online = false
    val hour = 3_600_000L
    fun draft(taskId: String, hoursAgo: Long, residents: Long, note: String?, vararg outcomes: Pair<OutcomeKind, Long>) =
        ReportDraft(taskId, clock - hoursAgo * hour, residents, outcomes.map { OutcomeCount(it.first, it.second) }, note)
    val drafts = mutableListOf<Pair<ReportDraft, Pair<String, String?>?>>(
        draft(task.id, 6, 12, "Nhà văn hoá tổ 5 – buổi sáng", OutcomeKind.VNEID_ACTIVATED to 5, OutcomeKind.VNEID_COLLECTED to 3) to null,
        draft(task.id, 5, 7, null, OutcomeKind.VNEID_ACTIVATED to 4) to null,
        draft(task.id, 4, 9, "Chợ Phước Mỹ \"sáng chủ nhật\"", OutcomeKind.VNEID_ACTIVATED to 2, OutcomeKind.APP_INSTALLED to 6) to null,
        draft(task.id, 3, 3, null) to null,
        draft(foreignTaskId, 2, 4, "Tổ khác", OutcomeKind.VNEID_ACTIVATED to 1) to ("NOT_FOUND" to null),
    )
    if (maxResidents != null && maxResidents < defaultMaxResidentsPerSession()) {
        drafts += draft(task.id, 1, maxResidents + 1, "Hội nghị phường", OutcomeKind.VNEID_ACTIVATED to 1) to
            ("BAD_USER_INPUT" to "residentsHelped")
    } else {
        println("note: CDTG_E2E_MAX_RESIDENTS not set below ${defaultMaxResidentsPerSession()}: over-maximum refusal not exercised")
    }
    outbox().use { ob ->
        for ((d, refusal) in drafts) planned += Planned(ob.recordReport(d).key, d, refusal?.first, refusal?.second)
        // The phone refuses on the spot what the server would refuse anyway: nothing stored.
        eq(throws<CdtgException.Invalid> { ob.recordReport(draft(task.id, 1, -1, null)) }.field, "residentsHelped")
        eq(ob.counts(), OutboxCounts(pending = planned.size.toULong(), refused = 0uL, acknowledged = 0uL), "counts")
        eq(planned.map { it.key }.toSet().size, planned.size, "distinct keys")
        // The app tries to send: no network, so every report stays pending with one failed attempt.
        val before = net.delivered
        eq(sync(ob, net, clock), emptyList<Exchange>(), "exchanges while offline")
        eq(net.delivered, before, "requests delivered while offline")
        for (r in ob.pending()) {
            eq(r.attempts, 1u, "attempts of ${r.key}")
            check(r.nextAttemptAtMs > clock) { "no back-off for ${r.key}" }
        }
        eq(ob.nextSyncBatch(50u, clock).size, 0, "due right after a failure")
        for (req in ob.nextSyncBatch(50u, Long.MAX_VALUE)) offlineBodies[req.key] = req.body
    }
}

test("e2e: the outbox survives an app restart with the same keys and bodies") {
    // Every outbox() above was closed; a fresh open is what the app does after being killed.
    outbox().use { ob ->
        eq(ob.pending().map { it.key }, planned.map { it.key }, "pending keys after restart")
        eq(ob.nextSyncBatch(50u, Long.MAX_VALUE).associate { it.key to it.body }, offlineBodies, "bodies after restart")
    }
}

test("e2e: back online, one sync stores the good reports and refuses the bad ones") {
    net.online = true
    clock += 3_600_000L // an hour later: every back-off has expired
    lostKey = planned[1].key // its answer will be lost on the way back
    outbox().use { ob ->
        firstSync = sync(ob, net, clock, lose = setOf(lostKey))
        eq(firstSync.map { it.key }, planned.map { it.key }, "sent in recording order")
        for (x in firstSync) eq(x.body, offlineBodies[x.key], "body of ${x.key}")
        for (p in planned) {
            val r = ob.report(p.key)!!
            when {
                p.key == lostKey -> {
                    eq(r.state, ReportState.PENDING, "lost answer: still pending")
                    eq(r.attempts, 2u, "lost answer: attempts")
                }
                p.refusedWith == null -> {
                    eq(r.state, ReportState.ACKNOWLEDGED, "state of ${p.key}")
                    activityIdByKey[p.key] = r.serverActivityId ?: throw AssertionError("no activity id for ${p.key}")
                }
                else -> eq(r.state, ReportState.REFUSED, "state of ${p.key} (${firstSync.first { it.key == p.key }.response})")
            }
        }
        // The answer that never reached the phone did reach the server.
        val lost = parseJson(firstSync.first { it.key == lostKey }.response)
        activityIdByKey[lostKey] = at(lost, "data", "reportActivity", "activity", "id") as? String
            ?: throw AssertionError("the server did not store the report whose answer was lost: $lost")
        eq(activityIdByKey.values.toSet().size, activityIdByKey.size, "distinct activity ids")
    }
}

test("e2e: a report on a task the member cannot see is refused with NOT_FOUND and stored nowhere") {
    outbox().use { ob ->
        val p = planned.single { it.refusedWith == "NOT_FOUND" }
        val r = ob.report(p.key)!!
        eq(r.refusal?.code, "NOT_FOUND", "refusal code")
        check(r.refusal!!.message.isNotBlank()) { "no message for the member" }
        check(ob.nextSyncBatch(50u, Long.MAX_VALUE).none { it.key == p.key }) { "refused report is resent" }
    }
}

if (maxResidents != null && maxResidents < defaultMaxResidentsPerSession()) {
    test("e2e: a report above the server's maximum ($maxResidents residents) is refused with BAD_USER_INPUT on residentsHelped") {
        outbox().use { ob ->
            val p = planned.single { it.refusedWith == "BAD_USER_INPUT" }
            eq(ob.report(p.key)!!.refusal?.code, "BAD_USER_INPUT", "refusal code")
            eq(ob.report(p.key)!!.refusal?.field, "residentsHelped", "refusal field")
        }
    }
}

test("e2e: after a lost answer the resent report returns the activity already stored (created: false)") {
    outbox().use { ob ->
        val due = ob.report(lostKey)!!.nextAttemptAtMs
        eq(ob.nextSyncBatch(50u, due - 1).size, 0, "before the back-off expires")
        clock = due
        val resent = sync(ob, net, clock)
        eq(resent.map { it.key }, listOf(lostKey), "only the unanswered report is resent")
        eq(resent[0].body, offlineBodies[lostKey], "byte-identical resend")
        val r = ob.report(lostKey)!!
        eq(r.state, ReportState.ACKNOWLEDGED, "state")
        eq(r.serverActivityId, activityIdByKey[lostKey], "same activity as the lost answer")
        val (_, probe) = net.postRetrying(withCreated(resent[0].body))
        eq(at(parseJson(probe), "data", "reportActivity", "created"), false, "created on resend ($probe)")
    }
}

test("e2e: resending the whole batch (every answer lost) creates nothing") {
    outbox().use { ob ->
        val before = ob.counts()
        for (x in firstSync) {
            val (status, response) = net.postRetrying(x.body) // byte-identical, same token, same key
            val p = planned.first { it.key == x.key }
            val doc = parseJson(response)
            if (p.refusedWith == null) {
                eq(status, 200, "status")
                eq(at(doc, "data", "reportActivity", "activity", "id"), activityIdByKey[x.key], "activity of ${x.key}")
                val (_, probe) = net.postRetrying(withCreated(x.body))
                eq(at(parseJson(probe), "data", "reportActivity", "created"), false, "created for ${x.key} ($probe)")
            } else {
                eq(at(doc, "errors", 0, "extensions", "code"), p.refusedWith, "refusal of ${x.key} again")
            }
            // The app applies the duplicate answer too: a report that is no longer pending is left as is.
            val r = ob.applySyncResponse(x.key, status, response, clock)
            eq(r.state, if (p.refusedWith == null) ReportState.ACKNOWLEDGED else ReportState.REFUSED, "state of ${x.key}")
        }
        eq(ob.counts(), before, "counts after the duplicate batch")
    }
}

test("e2e: on the server every report counted exactly once and progress is the exact sum") {
    val node = at(net.data(TASK, mapOf("id" to task.id)), "node")
    val keys = (at(node, "activities", "nodes") as List<*>).map { at(it, "idempotencyKey") as String }
    val good = planned.filter { it.refusedWith == null }
    for (p in good) eq(keys.count { it == p.key }, 1, "activities with key ${p.key}")
    for (p in planned.filter { it.refusedWith != null }) eq(keys.count { it == p.key }, 0, "activities with refused key ${p.key}")
    eq(long(at(node, "activities", "totalCount")), activitiesBefore + good.size, "activities on the task")
    // The expected sum comes from the core's own rule, the one the server applies.
    val sum = good.sumOf { progressDelta(task.kind, it.draft.residentsHelped, it.draft.outcomes) }
    eq(long(at(node, "progress")), progressBefore + sum, "server progress")
    // The phone's cached copy was updated from the acknowledgements.
    outbox().use { ob -> eq(ob.cachedTasks(null).first { it.id == task.id }.progress, progressBefore + sum, "cached progress") }
}

test("e2e: after sync nothing is left to send and the refusals are kept for the member") {
    outbox().use { ob ->
        val refusals = planned.count { it.refusedWith != null }
        eq(ob.counts(), OutboxCounts(pending = 0uL, refused = refusals.toULong(), acknowledged = (planned.size - refusals).toULong()))
        eq(ob.nextSyncBatch(50u, Long.MAX_VALUE), emptyList<SyncRequest>(), "batch")
        eq(ob.refused().map { it.refusal?.code }, planned.mapNotNull { it.refusedWith }, "refusal codes")
    }
}

tmp.toFile().deleteRecursively()
println("$passed passed, $failed failed")
exitProcess(if (failed == 0) 0 else 1)
