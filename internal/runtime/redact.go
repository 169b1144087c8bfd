package runtime

import (
	"sort"
	"strings"
)

// Redact replaces each of secrets in msg by "***", longest first, so that
// a message about decrypted data never carries the data.
func Redact(msg string, secrets []string) string {
	if len(secrets) == 0 {
		return msg
	}
	sorted := append([]string(nil), secrets...)
	sort.Slice(sorted, func(i, j int) bool { return len(sorted[i]) > len(sorted[j]) })
	for _, s := range sorted {
		msg = strings.ReplaceAll(msg, s, "***")
	}
	return msg
}
