package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"dockhand.dev/test/cluster/nodeagent"
)

func init() {
	register("nodes", "node agent: registers linux-0, win-ltsc2022-0, win-ltsc2019-0, win-ltsc2025-0 and runs their pods as host processes", runNodes)
}

func runNodes(args []string) error {
	fs := flag.NewFlagSet("nodes", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "admin kubeconfig of the bed API server (required)")
	dir := fs.String("dir", "", "state directory, <BED_DIR>/nodes: pod volumes, logs, serving certs (required, absolute)")
	dockerSock := fs.String("docker-sock", "", "unix socket of the bed dockerd; Docker socket and named-pipe hostPaths map to it (required, absolute)")
	extraPath := fs.String("path", "", "directories prepended to PATH for container processes, separated by ':'")
	portOffset := fs.Int("port-offset", 0, "added to every node's kubelet port (11250-11253), to run a second bed beside the first")
	imagesFile := fs.String("images", "", "JSON image catalogue of the Windows nodes ({\"images\": [{reference, path, entrypoint, osVersion, hostProcess, dockerVersion}]}); an image not listed fails to pull there")
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	fs.Var(klogFlags.Lookup("v").Value, "v", "log verbosity")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *kubeconfig == "" || *dir == "" || *dockerSock == "" {
		fs.Usage()
		return errors.New("--kubeconfig, --dir and --docker-sock are required")
	}
	var paths []string
	for _, p := range filepath.SplitList(*extraPath) {
		if p != "" {
			paths = append(paths, p)
		}
	}

	var images *nodeagent.ImageCatalogue
	if *imagesFile != "" {
		var err error
		if images, err = nodeagent.LoadImageCatalogue(*imagesFile); err != nil {
			return err
		}
	}

	restConfig, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return err
	}
	restConfig.QPS, restConfig.Burst = 50, 100
	restConfig.UserAgent = "testcluster-nodes (kubelet stand-in)"
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return err
	}

	nodes := nodeagent.DefaultNodes()
	for i := range nodes {
		nodes[i].Port += int32(*portOffset)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return nodeagent.Run(ctx, nodeagent.Config{
		Client:     client,
		APIServer:  restConfig.Host,
		Dir:        *dir,
		DockerSock: *dockerSock,
		ExtraPath:  paths,
		Nodes:      nodes,
		Images:     images,
	})
}
