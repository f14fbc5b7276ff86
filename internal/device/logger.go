package device

import (
	"context"
	"maps"
)

// Logger receives the pool's debug events: dials, retries, reuse, idle closes and helper
// uploads. Fields use snake_case keys (host, port, user, helper_sha256) and never hold secrets.
// The provider passes an implementation that writes to tflog.
type Logger interface {
	Debug(ctx context.Context, msg string, fields map[string]any)
}

type nopLogger struct{}

func (nopLogger) Debug(context.Context, string, map[string]any) {}

// targetFields returns a new map, so that callers and loggers may add to it.
func targetFields(target Target) map[string]any {
	return map[string]any{"host": target.Host, "port": target.Port, "user": target.User}
}

// withField returns a copy of fields with one more entry.
func withField(fields map[string]any, key string, value any) map[string]any {
	copied := maps.Clone(fields)
	copied[key] = value
	return copied
}
