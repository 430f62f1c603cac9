package main

import (
	"flag"
	"fmt"

	"dockhand.dev/test/cluster/pki"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func init() {
	register("apiserver", "run kube-apiserver against the bed's etcd and PKI until SIGTERM (flags after -- go to kube-apiserver)", runAPIServer)
}

const (
	serviceClusterIPRange = "10.96.0.0/16"
	// kubernetesServiceIP is the first address of serviceClusterIPRange,
	// which the apiserver reserves for the `kubernetes` Service; in-cluster
	// clients dial it, so the serving certificate must name it.
	kubernetesServiceIP = "10.96.0.1"
	// serviceAccountIssuer is what kubeadm uses; the issuer also becomes the
	// default API audience of service-account tokens.
	serviceAccountIssuer = "https://kubernetes.default.svc.cluster.local"
	frontProxyClientCN   = "front-proxy-client"
)

func runAPIServer(args []string) error {
	fs := flag.NewFlagSet("apiserver", flag.ExitOnError)
	dir := bedDirFlag(fs)
	port := fs.Int("port", 16443, "secure port to serve on (bound to 127.0.0.1)")
	etcd := fs.String("etcd", defaultEtcdURL, "etcd client URL(s), comma separated")
	_ = fs.Parse(args)
	l, err := bedLayout(*dir)
	if err != nil {
		return err
	}
	return runUpstream(apiserver.NewAPIServerCommand(), apiserverArgs(l, *port, *etcd), fs.Args(), upstreamHandlesSignals)
}

func apiserverArgs(l pki.Layout, port int, etcd string) []string {
	return []string{
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		// The apiserver would otherwise advertise the host's first non-loopback
		// address; the bed is loopback-only.
		"--advertise-address=127.0.0.1",
		// The endpoint reconciler publishes the advertise address in the
		// `kubernetes` Endpoints/EndpointSlice, and API validation rejects
		// loopback addresses there (ValidateNonSpecialIP), so it would fail
		// forever. With none, the Service exists but has no endpoints.
		"--endpoint-reconciler-type=none",
		"--etcd-servers=" + etcd,
		"--tls-cert-file=" + l.APIServerCert,
		"--tls-private-key-file=" + l.APIServerKey,
		"--client-ca-file=" + l.CACert,
		"--authorization-mode=RBAC,Node",
		"--enable-admission-plugins=NodeRestriction",
		"--service-account-issuer=" + serviceAccountIssuer,
		"--service-account-key-file=" + l.SAPub,
		"--service-account-signing-key-file=" + l.SAKey,
		"--service-cluster-ip-range=" + serviceClusterIPRange,
		// kubeadm signs the front proxy with a CA of its own; sharing the bed
		// CA is safe because only the allowed CN may assert identity headers.
		"--requestheader-client-ca-file=" + l.CACert,
		"--requestheader-allowed-names=" + frontProxyClientCN,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + l.FrontProxyCert,
		"--proxy-client-key-file=" + l.FrontProxyKey,
		"--kubelet-client-certificate=" + l.KubeletClientCert,
		"--kubelet-client-key=" + l.KubeletClientKey,
		// The node agents report only an InternalIP (127.0.0.1) and serve
		// their kubelet API on distinct loopback ports.
		"--kubelet-preferred-address-types=InternalIP",
		// Windows HostProcess pods and the privileged build DaemonSets are
		// rejected at admission without this.
		"--allow-privileged=true",
		"--v=0",
	}
}
