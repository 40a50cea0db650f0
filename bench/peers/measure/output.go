package measure

// The JSON lines river-bench and temporal-bench print for bench-peers-report
// (bench/src/bin/bench-peers-report.rs), one shape for both systems.

// Throughput is the line of the throughput phase.
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
	// DonePerSec: when the workers finished, if that differs from completion as the client sees it.
	DonePerSec     float64            `json:"done_per_s,omitempty"`
	SubmitSecs     float64            `json:"submit_secs"`
	SubmitPerSec   float64            `json:"submit_per_s"`
	CPU            map[string]float64 `json:"cpu_s"`
	CPUTotal       float64            `json:"cpu_total_s"`
	CPUPer1000     float64            `json:"cpu_s_per_1000"`
	Commits        int64              `json:"commits"`
	CommitsPerTask float64            `json:"commits_per_task"`
	// OwnCommits: the generator's own transactions on the measured databases, not counted above.
	OwnCommits int64             `json:"own_commits,omitempty"`
	Settings   map[string]string `json:"settings"`
	Errors     int64             `json:"insert_errors"`
}

// PgSnapshot is what PostgreSQL says at one moment. Tables are "<database label>.<table>" ->
// [n_tup_ins, n_tup_upd, n_tup_del] of pg_stat_user_tables; WalLSN is pg_current_wal_lsn() in
// bytes; DBBytes is pg_database_size per database. The same shape as bench/bench-peers.sh's
// snapshots of TaskFlow's databases.
type PgSnapshot struct {
	UnixMs  int64               `json:"unix_ms"`
	WalLSN  int64               `json:"wal_lsn"`
	DBBytes map[string]int64    `json:"db_bytes"`
	Tables  map[string][3]int64 `json:"tables"`
}

// PgLine is one snapshot as a line of phase "pg".
type PgLine struct {
	System   string      `json:"system"`
	Config   string      `json:"config"`
	Phase    string      `json:"phase"`
	At       string      `json:"at"`
	Snapshot *PgSnapshot `json:"snapshot"`
}

// Latency is the line of the latency phase.
type Latency struct {
	System      string            `json:"system"`
	Config      string            `json:"config"`
	Phase       string            `json:"phase"`
	Rate        float64           `json:"rate"`
	Tasks       int               `json:"tasks"`
	Measured    int               `json:"measured"`
	P50         float64           `json:"p50_ms"`
	P90         float64           `json:"p90_ms"`
	P99         float64           `json:"p99_ms"`
	Max         float64           `json:"max_ms"`
	DBP50       float64           `json:"db_p50_ms"`
	DBP99       float64           `json:"db_p99_ms"`
	LateMax     float64           `json:"late_max_ms"`
	SamplesFile string            `json:"samples_file,omitempty"`
	Definition  string            `json:"definition"`
	Settings    map[string]string `json:"settings"`
	Errors      int64             `json:"insert_errors"`
}
