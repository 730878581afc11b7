package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// streamsStep is one request of the streams command: a KIP-1071
// StreamsGroupHeartbeat or StreamsGroupDescribe, written as the JSON of
// kmsg's own request struct (its Go field names: Group, MemberID,
// MemberEpoch, Topology.Subtopologies[].SourceTopics, ActiveTasks, ...;
// fields left out keep kmsg's defaults, a JSON null list stays a null
// list on the wire). MaxVersion caps the version kgo negotiates (the
// newest both sides know otherwise), e.g. 0 to send v0.
type streamsStep struct {
	Heartbeat  json.RawMessage `json:"heartbeat"`
	Describe   json.RawMessage `json:"describe"`
	MaxVersion *int16          `json:"max_version"`
}

// streams sends each step in order and prints the JSON of kmsg's decoded
// answer, one line per step: "heartbeat {...}" (a StreamsGroupHeartbeat
// response: Version, ErrorCode, ErrorMessage, MemberID, MemberEpoch,
// Status, ActiveTasks, ...) or "describe {...}" (a StreamsGroupDescribe
// response). kgo (v1.22) does not route StreamsGroupHeartbeat to the group
// coordinator itself, so each request goes to the coordinator a
// FindCoordinator names.
func (franz) streams(ctx context.Context, s *settings, steps []string) error {
	clients := map[int16]*kgo.Client{}
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	client := func(maxVersion int16) (*kgo.Client, error) {
		if cl, ok := clients[maxVersion]; ok {
			return cl, nil
		}
		var extra []kgo.Opt
		if maxVersion >= 0 {
			versions := kversion.Stable()
			versions.SetMaxKeyVersion(88, maxVersion)
			versions.SetMaxKeyVersion(89, maxVersion)
			extra = append(extra, kgo.MaxVersions(versions))
		}
		cl, err := franzClient(ctx, s, extra...)
		if err != nil {
			return nil, err
		}
		clients[maxVersion] = cl
		return cl, nil
	}
	for i, text := range steps {
		var step streamsStep
		if err := strictJSON([]byte(text), &step); err != nil {
			return fmt.Errorf("step %d: %w", i, err)
		}
		maxVersion := int16(-1)
		if step.MaxVersion != nil {
			maxVersion = *step.MaxVersion
		}
		cl, err := client(maxVersion)
		if err != nil {
			return err
		}
		switch {
		case step.Heartbeat != nil:
			req := kmsg.NewPtrStreamsGroupHeartbeatRequest()
			if err := strictJSON(step.Heartbeat, req); err != nil {
				return fmt.Errorf("step %d: heartbeat: %w", i, err)
			}
			resp, err := toCoordinator(ctx, cl, req.Group, req)
			if err != nil {
				return fmt.Errorf("step %d: StreamsGroupHeartbeat: %w", i, err)
			}
			if err := printJSON("heartbeat", resp); err != nil {
				return err
			}
		case step.Describe != nil:
			req := kmsg.NewPtrStreamsGroupDescribeRequest()
			if err := strictJSON(step.Describe, req); err != nil {
				return fmt.Errorf("step %d: describe: %w", i, err)
			}
			group := ""
			if len(req.Groups) > 0 {
				group = req.Groups[0]
			}
			resp, err := toCoordinator(ctx, cl, group, req)
			if err != nil {
				return fmt.Errorf("step %d: StreamsGroupDescribe: %w", i, err)
			}
			if err := printJSON("describe", resp); err != nil {
				return err
			}
		default:
			return fmt.Errorf("step %d: neither heartbeat nor describe: %s", i, text)
		}
	}
	return nil
}

// toCoordinator sends req to the coordinator of group.
func toCoordinator(ctx context.Context, cl *kgo.Client, group string,
	req kmsg.Request) (kmsg.Response, error) {
	find := kmsg.NewPtrFindCoordinatorRequest()
	find.CoordinatorType = 0 // group
	find.CoordinatorKeys = []string{group}
	found, err := find.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if len(found.Coordinators) != 1 {
		return nil, fmt.Errorf("FindCoordinator answered %d coordinators", len(found.Coordinators))
	}
	coordinator := found.Coordinators[0]
	if coordinator.ErrorCode != 0 {
		return nil, fmt.Errorf("FindCoordinator: error %d", coordinator.ErrorCode)
	}
	return cl.Broker(int(coordinator.NodeID)).RetriableRequest(ctx, req)
}

// strictJSON decodes text into v, refusing fields v does not have (a
// misspelt field would otherwise go unsent without a word).
func strictJSON(text []byte, v any) error {
	decoder := json.NewDecoder(bytes.NewReader(text))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(v); err != nil {
		return err
	}
	if decoder.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

func printJSON(kind string, v any) error {
	text, err := json.Marshal(v)
	if err != nil {
		return err
	}
	say("%s %s", kind, text)
	return nil
}
