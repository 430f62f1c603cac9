package kubeconfig

import (
	"path/filepath"
	"testing"
)

func TestBuildRejectsAmbiguousCredentials(t *testing.T) {
	base := File{Server: "https://127.0.0.1:16443", CAPEM: []byte("ca")}
	cases := map[string]Credentials{
		"none": {},
		"both": {ClientCertPEM: []byte("c"), ClientKeyPEM: []byte("k"), Token: "t"},
		"half": {ClientCertPEM: []byte("c")},
	}
	for name, creds := range cases {
		f := base
		f.User = creds
		if _, err := Build(f); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestWriteThenLoadKeepsServerTokenAndCA(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sa.kubeconfig")
	f := File{Server: "https://127.0.0.1:16443", CAPEM: []byte("-----BEGIN CERTIFICATE-----\n"), User: Credentials{Token: "tok"}, Namespace: "dockhand"}
	if err := Write(path, f); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := CAPEM(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != f.Server || cfg.BearerToken != "tok" || string(ca) != string(f.CAPEM) {
		t.Fatalf("round trip changed the config: host=%q token=%q ca=%q", cfg.Host, cfg.BearerToken, ca)
	}
}
