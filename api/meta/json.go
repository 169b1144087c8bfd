package meta

import "bytes"

// JSON holds an arbitrary JSON value, kept as written, such as Helm values.
// It serializes as the value itself, not as an object with a field.
//
// +kubebuilder:validation:Type=""
// +kubebuilder:validation:Schemaless
// +kubebuilder:pruning:PreserveUnknownFields
type JSON struct {
	Raw []byte `json:"-"`
}

// MarshalJSON returns the raw value, or null when empty.
func (j JSON) MarshalJSON() ([]byte, error) {
	if len(j.Raw) == 0 {
		return []byte("null"), nil
	}
	return j.Raw, nil
}

// UnmarshalJSON keeps a copy of data; null leaves the value empty.
func (j *JSON) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && !bytes.Equal(data, []byte("null")) {
		j.Raw = append(j.Raw[:0], data...)
	}
	return nil
}
