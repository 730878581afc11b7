package gregortest

import (
	"encoding/json"
	"time"
)

// A Fault is what a broker does instead of, or on top of, handling the
// next Count requests that match it: exact faults, never "about 10%".
//
// A request matches when it is of API (by name, "Produce", or by key as a
// string, "0") and, where set, touches Topic and Partition and comes from
// ClientID. With After, the fault waits until that many more records have
// been appended to a topic, counted from when it is armed.
//
// Topic matches only requests that name their topics: Produce v13 and Fetch
// v13 and later name them by id and do not match it.
type Fault struct {
	API       string `json:"api"`
	Topic     string `json:"topic,omitempty"`
	Partition *int32 `json:"partition,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	// Action is one of ErrorCode(code), Latency(d), Throttle(d) or
	// Disconnect.
	Action any    `json:"action"`
	Count  int    `json:"count"`
	After  *After `json:"after,omitempty"`
}

// After holds a fault back until Records more records are appended to Topic.
type After struct {
	Topic   string `json:"topic"`
	Records int64  `json:"records"`
}

// An ArmedFault is a fault the broker holds, with the matches it has left
// in Count.
type ArmedFault struct {
	ID int64 `json:"id"`
	Fault
}

// ErrorCode answers matching requests with a Kafka error code, in the API's
// own shape (per partition, per group, …), without handling them: nothing
// is written. ErrorCode(6) is NOT_LEADER_OR_FOLLOWER.
func ErrorCode(code int16) any {
	return map[string]int16{"error": code}
}

// Latency handles matching requests after a delay, in whole milliseconds.
func Latency(d time.Duration) any {
	return map[string]int64{"latency_ms": d.Milliseconds()}
}

// Throttle handles matching requests, answers them with throttle_time_ms
// set and reads nothing more from the connection for as long: what a
// client over its quota sees (KIP-219).
func Throttle(d time.Duration) any {
	return map[string]int64{"throttle_ms": d.Milliseconds()}
}

// Disconnect handles matching requests, then closes the connection instead
// of answering: a write the client cannot know was made.
const Disconnect = "disconnect"

// A JournalEntry is one request the broker answered.
type JournalEntry struct {
	API           string `json:"api"`
	Version       int16  `json:"version"`
	ClientID      string `json:"client_id"`
	CorrelationID int32  `json:"correlation_id"`
	LatencyMicros int64  `json:"latency_us"`
	ErrorCode     int16  `json:"error_code"`
	// Fault is the fault applied to the request, as JSON in the shape it was
	// armed with ({"error":6}, "disconnect"…), or null.
	Fault json.RawMessage `json:"fault"`
}

// A Finding is what the client-behaviour linter flags about one client id:
// the rule (e.g. "commit-beyond-high-watermark"), a message, the evidence
// (counts and examples, shaped by the rule) and the client setting that
// fixes it.
type Finding struct {
	ClientID string          `json:"client_id"`
	Rule     string          `json:"rule"`
	Message  string          `json:"message"`
	Evidence json.RawMessage `json:"evidence"`
	Fix      string          `json:"fix"`
}

// A CutMode is how a broker is cut off from its clients (not from the other
// brokers).
type CutMode string

const (
	// Refuse closes client connections at their next request.
	Refuse CutMode = "refuse"
	// BlackHole leaves client requests unanswered until the cut is healed,
	// then answers them, as after a network that dropped packets.
	BlackHole CutMode = "black_hole"
)

type clientCut struct {
	Mode CutMode `json:"mode"`
}
