package git

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"

	"golang.org/x/crypto/ssh"
)

// The SSH signature format (OpenSSH's PROTOCOL.sshsig): an armored blob
//
//	"SSHSIG" | uint32 version (1) | string publickey | string namespace |
//	string reserved | string hash_algorithm | string signature
//
// where signature is an SSH signature over
//
//	"SSHSIG" | string namespace | string reserved | string hash_algorithm |
//	string H(message)
const (
	sshsigMagic   = "SSHSIG"
	sshsigVersion = 1
	gitNamespace  = "git"
	// maxSSHSig caps the size of an armored signature read.
	maxSSHSig = 64 << 10
)

type sshsigBlob struct {
	Version       uint32
	PublicKey     []byte
	Namespace     string
	Reserved      string
	HashAlgorithm string
	Signature     []byte
}

type sshsigSigned struct {
	Namespace     string
	Reserved      string
	HashAlgorithm string
	Hash          []byte
}

// verifySSHSignature checks an armored SSH signature of message in the
// namespace, made by one of the trusted keys, and returns that key.
func verifySSHSignature(armored, message []byte, namespace string, trusted []ssh.PublicKey) (ssh.PublicKey, error) {
	if len(armored) > maxSSHSig {
		return nil, errors.New("SSH signature is too large")
	}
	block, _ := pem.Decode(bytes.TrimSpace(armored))
	if block == nil || block.Type != "SSH SIGNATURE" {
		return nil, errors.New("SSH signature is not armored as SSH SIGNATURE")
	}
	raw, ok := bytes.CutPrefix(block.Bytes, []byte(sshsigMagic))
	if !ok {
		return nil, errors.New("SSH signature lacks the SSHSIG preamble")
	}
	var sig sshsigBlob
	if err := ssh.Unmarshal(raw, &sig); err != nil {
		return nil, fmt.Errorf("decoding SSH signature: %w", err)
	}
	if sig.Version != sshsigVersion {
		return nil, fmt.Errorf("SSH signature version %d is not supported", sig.Version)
	}
	if sig.Namespace != namespace {
		return nil, fmt.Errorf("SSH signature is for namespace %q, not %q", sig.Namespace, namespace)
	}
	pub, err := ssh.ParsePublicKey(sig.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("SSH signature carries an unreadable public key: %w", err)
	}
	var key ssh.PublicKey
	for _, k := range trusted {
		if bytes.Equal(k.Marshal(), pub.Marshal()) {
			key = k
			break
		}
	}
	if key == nil {
		return nil, fmt.Errorf("SSH signature was made by %s, which is not a trusted key", ssh.FingerprintSHA256(pub))
	}
	var h hash.Hash
	switch sig.HashAlgorithm {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		return nil, fmt.Errorf("SSH signature hash algorithm %q is not supported", sig.HashAlgorithm)
	}
	h.Write(message)
	signed := append([]byte(sshsigMagic), ssh.Marshal(sshsigSigned{
		Namespace:     sig.Namespace,
		Reserved:      sig.Reserved,
		HashAlgorithm: sig.HashAlgorithm,
		Hash:          h.Sum(nil),
	})...)
	var s ssh.Signature
	if err := ssh.Unmarshal(sig.Signature, &s); err != nil {
		return nil, fmt.Errorf("decoding SSH signature value: %w", err)
	}
	// PROTOCOL.sshsig forbids SHA-1 RSA signatures.
	if s.Format == ssh.KeyAlgoRSA {
		return nil, errors.New("SSH signature uses ssh-rsa (SHA-1), which is not accepted")
	}
	if err := key.Verify(signed, &s); err != nil {
		return nil, fmt.Errorf("SSH signature does not verify with key %s: %w", ssh.FingerprintSHA256(key), err)
	}
	return key, nil
}
