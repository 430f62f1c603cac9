package main

import (
	"net"
	"slices"
	"testing"

	"dockhand.dev/test/cluster/pki"
)

func TestAPIServerCertNamesEveryWayClientsDialIt(t *testing.T) {
	spec := leafSpecs("127.0.0.1")[pki.APIServerName]
	for _, name := range []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"} {
		if !slices.Contains(spec.DNSNames, name) {
			t.Errorf("missing DNS SAN %s", name)
		}
	}
	for _, ip := range []string{"127.0.0.1", kubernetesServiceIP} {
		if !slices.ContainsFunc(spec.IPs, net.ParseIP(ip).Equal) {
			t.Errorf("missing IP SAN %s", ip)
		}
	}
	if len(spec.IPs) != 2 {
		t.Errorf("127.0.0.1 added twice: %v", spec.IPs)
	}
}

func TestAPIServerCertAddsCustomHost(t *testing.T) {
	if spec := leafSpecs("bed.example")[pki.APIServerName]; !slices.Contains(spec.DNSNames, "bed.example") {
		t.Errorf("--apiserver-url host not in SANs: %v", spec.DNSNames)
	}
	if spec := leafSpecs("10.1.2.3")[pki.APIServerName]; !slices.ContainsFunc(spec.IPs, net.ParseIP("10.1.2.3").Equal) {
		t.Errorf("--apiserver-url IP not in SANs: %v", spec.IPs)
	}
}

func TestServiceIPIsFirstAddressOfServiceRange(t *testing.T) {
	_, cidr, err := net.ParseCIDR(serviceClusterIPRange)
	if err != nil {
		t.Fatal(err)
	}
	first := slices.Clone(cidr.IP.To4())
	first[3]++
	if !first.Equal(net.ParseIP(kubernetesServiceIP)) {
		t.Errorf("kubernetes Service IP %s is not the first address of %s", kubernetesServiceIP, serviceClusterIPRange)
	}
}
