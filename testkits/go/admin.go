package gregortest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// An HTTPError is a request the fault plane refused: its status and the
// reason the broker gave. Use errors.As to inspect it.
type HTTPError struct {
	Method     string
	Path       string
	StatusCode int
	Body       string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("gregortest: %s %s: %d %s: %s",
		e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode), e.Body)
}

// A restart or a leader move answers in well under a second; the timeout
// only keeps a wedged broker from hanging the test.
var httpClient = &http.Client{Timeout: 60 * time.Second}

// admin speaks to the HTTP fault plane of a broker or of a cluster.
type admin struct {
	url string
}

// call sends body (if not nil) as JSON and decodes a 2xx answer into answer
// (if not nil). The plane refuses changes not marked as JSON (415), so that
// no web page can make a browser change a local broker: every POST and
// DELETE says it is.
func (a admin) call(method, path string, body, answer any) error {
	var payload io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("gregortest: %s %s: %w", method, path, err)
		}
		payload = bytes.NewReader(data)
	}
	request, err := http.NewRequest(method, a.url+path, payload)
	if err != nil {
		return fmt.Errorf("gregortest: %s %s: %w", method, path, err)
	}
	if method != http.MethodGet {
		request.Header.Set("Content-Type", "application/json")
	}
	response, err := httpClient.Do(request)
	if err != nil {
		return fmt.Errorf("gregortest: %s %s: %w", method, path, err)
	}
	defer response.Body.Close()
	data, err := io.ReadAll(response.Body)
	if err != nil {
		return fmt.Errorf("gregortest: %s %s: reading the answer: %w", method, path, err)
	}
	if response.StatusCode/100 != 2 {
		return &HTTPError{Method: method, Path: path, StatusCode: response.StatusCode,
			Body: string(bytes.TrimSpace(data))}
	}
	if answer != nil {
		if err := json.Unmarshal(data, answer); err != nil {
			return fmt.Errorf("gregortest: %s %s: unexpected answer %q: %w", method, path, data, err)
		}
	}
	return nil
}

// advanceClock moves the broker's clock forward, in whole milliseconds.
// The clock belongs to the process: a cluster's brokers share it.
func (a admin) advanceClock(by time.Duration) error {
	if by < 0 {
		return fmt.Errorf("gregortest: the clock only moves forward, not by %v", by)
	}
	return a.call(http.MethodPost, fmt.Sprintf("/clock/advance?ms=%d", by.Milliseconds()), nil, nil)
}
