package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func init() {
	register("etcd", "run a single-member embedded etcd (data in BED_DIR/etcd) until SIGTERM", runEtcd)
}

// etcdStartTimeout bounds waiting for the member to become ready; a single
// member on loopback elects itself in well under a second, so a long wait
// means a port clash or a corrupt data dir.
const etcdStartTimeout = 60 * time.Second

func runEtcd(args []string) error {
	fs := flag.NewFlagSet("etcd", flag.ExitOnError)
	dir := bedDirFlag(fs)
	clientURL := fs.String("client-url", defaultEtcdURL, "URL to serve clients on (kube-apiserver --etcd-servers)")
	peerURL := fs.String("peer-url", "http://127.0.0.1:12380", "URL to serve raft peers on (nothing joins, but etcd needs one)")
	logLevel := fs.String("log-level", "warn", "etcd log level: debug, info, warn, error")
	_ = fs.Parse(args)
	l, err := bedLayout(*dir)
	if err != nil {
		return err
	}

	cfg, err := etcdConfig(filepath.Join(l.BedDir, "etcd"), *clientURL, *peerURL, *logLevel)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("starting etcd in %s: %w", cfg.Dir, err)
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
		fmt.Fprintf(os.Stderr, "etcd ready on %s\n", *clientURL)
	case <-time.After(etcdStartTimeout):
		e.Server.Stop()
		return fmt.Errorf("etcd not ready after %s; is %s or %s already in use?", etcdStartTimeout, *clientURL, *peerURL)
	case <-ctx.Done():
		return nil
	}

	select {
	case <-ctx.Done():
		return nil
	case err := <-e.Err():
		return fmt.Errorf("etcd stopped: %w", err)
	case <-e.Server.StopNotify():
		return fmt.Errorf("etcd server stopped on its own (see the log above)")
	}
}

func etcdConfig(dataDir, clientURL, peerURL, logLevel string) (*embed.Config, error) {
	client, err := url.Parse(clientURL)
	if err != nil {
		return nil, fmt.Errorf("--client-url: %w", err)
	}
	peer, err := url.Parse(peerURL)
	if err != nil {
		return nil, fmt.Errorf("--peer-url: %w", err)
	}
	cfg := embed.NewConfig()
	cfg.Name = "testbed"
	cfg.Dir = dataDir
	cfg.ListenClientUrls = []url.URL{*client}
	cfg.AdvertiseClientUrls = []url.URL{*client}
	cfg.ListenPeerUrls = []url.URL{*peer}
	cfg.AdvertisePeerUrls = []url.URL{*peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = logLevel
	cfg.LogOutputs = []string{"stderr"}
	return cfg, nil
}
