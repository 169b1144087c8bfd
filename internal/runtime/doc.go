// Package runtime is what every gotk reconciler shares: condition helpers,
// the status patcher, the error taxonomy that decides between stalling,
// waiting and retrying, the event recorder, reconcile-request handling,
// jittered intervals, metrics and the flags common to all controllers.
package runtime
