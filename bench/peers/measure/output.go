package measure

// The JSON lines river-bench and temporal-bench print for bench-peers-report
// (bench/src/bin/bench-peers-report.rs), one shape for both systems.

// Throughput is the line of the throughput phase. Its PostgreSQL commits and row writes are
// bench-peers-report's, from the PgLines.
type Throughput struct {
	System      string  `json:"system"`
	Config      string  `json:"config"`
	Phase       string  `json:"phase"`
	Tasks       int     `json:"tasks"`
	Completed   int     `json:"completed"`
	Batch       int     `json:"batch"`
	Inflight    int     `json:"inflight"`
	Workers     int     `json:"workers"`
	Secs        float64 `json:"secs"`
	TasksPerSec float64 `json:"tasks_per_s"`
	// LastCompletionUnixMs: when the last task was seen completed (the 30 s after the burst count
	// from here).
	LastCompletionUnixMs int64 `json:"last_completion_unix_ms"`
	// DonePerSec: when the workers finished, if that differs from completion as the client sees it.
	DonePerSec   float64            `json:"done_per_s,omitempty"`
	SubmitSecs   float64            `json:"submit_secs"`
	SubmitPerSec float64            `json:"submit_per_s"`
	CPU          map[string]float64 `json:"cpu_s"`
	CPUTotal     float64            `json:"cpu_total_s"`
	CPUPer1000   float64            `json:"cpu_s_per_1000"`
	// OwnCommits: the generator's own transactions on the measured databases during the run,
	// subtracted from the system's commits.
	OwnCommits int64             `json:"own_commits,omitempty"`
	Settings   map[string]string `json:"settings"`
	Errors     int64             `json:"insert_errors"`
}

// PgSnapshot is what PostgreSQL says at one moment. Tables are "<database label>.<table>" ->
// [n_tup_ins, n_tup_upd, n_tup_del] of pg_stat_user_tables; WalLSN is pg_current_wal_lsn() in
// bytes; DBBytes is pg_database_size per database; Commits is pg_stat_database.xact_commit summed
// over the system's databases. The same shape as bench/bench-peers.sh's
// snapshots of TaskFlow's databases.
type PgSnapshot struct {
	UnixMs  int64               `json:"unix_ms"`
	WalLSN  int64               `json:"wal_lsn"`
	DBBytes map[string]int64    `json:"db_bytes"`
	Tables  map[string][3]int64 `json:"tables"`
	Commits int64               `json:"commits"`
}

// PgLine is one snapshot as a line of phase "pg".
type PgLine struct {
	System   string      `json:"system"`
	Config   string      `json:"config"`
	Phase    string      `json:"phase"`
	At       string      `json:"at"`
	Snapshot *PgSnapshot `json:"snapshot"`
}

// Latency is the line of a latency run: phase "latency" (before the burst; with the CPU of every
// process from the first submit to the last completion) or "latency_after_burst".
type Latency struct {
	System      string             `json:"system"`
	Config      string             `json:"config"`
	Phase       string             `json:"phase"`
	Rate        float64            `json:"rate"`
	Tasks       int                `json:"tasks"`
	StartUnixMs int64              `json:"start_unix_ms"`
	Secs        float64            `json:"secs"` // first submit -> last completion
	CPU         map[string]float64 `json:"cpu_s,omitempty"`
	CPUTotal    float64            `json:"cpu_total_s,omitempty"`
	CPUPer1000  float64            `json:"cpu_s_per_1000,omitempty"`
	Measured    int                `json:"measured"`
	P50         float64            `json:"p50_ms"`
	P90         float64            `json:"p90_ms"`
	P99         float64            `json:"p99_ms"`
	Max         float64            `json:"max_ms"`
	DBP50       float64            `json:"db_p50_ms"`
	DBP99       float64            `json:"db_p99_ms"`
	LateMax     float64            `json:"late_max_ms"`
	SamplesFile string             `json:"samples_file,omitempty"`
	Definition  string             `json:"definition"`
	Settings    map[string]string  `json:"settings"`
	Errors      int64              `json:"insert_errors"`
}

// Single is the line of phase "single": one task per request (River: Client.Insert; Temporal:
// ExecuteWorkflow), Inflight at a time, no rate limit, while the workers run.
type Single struct {
	System       string  `json:"system"`
	Config       string  `json:"config"`
	Phase        string  `json:"phase"`
	Tasks        int     `json:"tasks"`
	Inflight     int     `json:"inflight"`
	SubmitSecs   float64 `json:"submit_secs"`
	SubmitPerSec float64 `json:"submit_per_s"`
	Errors       int64   `json:"insert_errors"`
}
