package nodeagent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-client/pkg/logs"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	// The kubelet decodes query parameters with the core API's registered
	// url.Values conversions; client-go's scheme has none.
	_ "k8s.io/kubernetes/pkg/apis/core/install"
)

// startServer serves the part of the kubelet API the API server calls for a
// build pod: GET /containerLogs/{namespace}/{pod}/{container} (kubectl logs,
// -f, --previous, --tail, --since, --limit-bytes, --timestamps) and /healthz.
// It is HTTPS with a self-signed certificate, as a kubelet without
// --tls-cert-file serves; the bed's API server does not verify it.
func (k *nodeKubelet) startServer(ctx context.Context) (*http.Server, error) {
	cert, err := k.servingCert()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(hostIP, strconv.Itoa(int(k.spec.Port)))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("kubelet endpoint %s: %w (is another node agent running?)", addr, err)
	}
	srv := &http.Server{
		Handler:           k.kubeletAPI(),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.FromContext(ctx).Error(err, "Kubelet endpoint stopped")
		}
	}()
	return srv, nil
}

func (k *nodeKubelet) kubeletAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", k.serveContainerLogs)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, fmt.Sprintf("%s is not implemented by the test bed node agent (only /containerLogs and /healthz)", r.URL.Path), http.StatusNotImplemented)
	})
	return mux
}

// serveContainerLogs follows the kubelet server's getContainerLogs and
// GetKubeletContainerLogs: same query decoding and validation, same error
// texts, and the CRI log reader of k8s.io/cri-client does the reading.
func (k *nodeKubelet) serveContainerLogs(w http.ResponseWriter, r *http.Request) {
	ns, name, container := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	query := r.URL.Query()
	if tail := query.Get("tail"); tail != "" { // the kubelet's backwards-compatible alias
		query["tailLines"] = []string{tail}
		if tail == "all" {
			delete(query, "tailLines")
		}
	}
	opts := &v1.PodLogOptions{}
	if err := legacyscheme.ParameterCodec.DecodeParameters(query, v1.SchemeGroupVersion, opts); err != nil {
		http.Error(w, `{"message": "Unable to decode query."}`, http.StatusBadRequest)
		return
	}
	if (opts.TailLines != nil && *opts.TailLines < 0) || (opts.LimitBytes != nil && *opts.LimitBytes < 1) ||
		(opts.SinceSeconds != nil && *opts.SinceSeconds < 1) || (opts.SinceSeconds != nil && opts.SinceTime != nil) {
		http.Error(w, `{"message": "Invalid request."}`, http.StatusUnprocessableEntity)
		return
	}
	pod, err := k.podLister.Pods(ns).Get(name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			http.Error(w, fmt.Sprintf("pod %q does not exist", name), http.StatusNotFound)
		} else {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		return
	}
	if findContainer(pod, container) == nil {
		http.Error(w, fmt.Sprintf("container %q not found in pod %q", container, name), http.StatusNotFound)
		return
	}

	dirs := k.lay.pod(pod.UID)
	path := dirs.log(container)
	if opts.Previous {
		path = dirs.previousLog(container)
		if _, err := os.Stat(path); err != nil {
			http.Error(w, fmt.Sprintf("previous terminated container %q in pod %q not found", container, name), http.StatusBadRequest)
			return
		}
	} else if _, err := os.Stat(path); err != nil {
		http.Error(w, fmt.Sprintf("container %q in pod %q is waiting to start: %s", container, name, waitingReason(pod, container)), http.StatusBadRequest)
		return
	}

	fw := &flushWriter{w: w}
	if f, ok := w.(http.Flusher); ok {
		fw.f = f
	}
	stream := v1.LogStreamAll
	if opts.Stream != nil {
		stream = *opts.Stream
	}
	var stdout, stderr io.Writer = fw, fw
	switch stream {
	case v1.LogStreamStdout:
		stderr = io.Discard
	case v1.LogStreamStderr:
		stdout = io.Discard
	}

	containerID := ""
	if opts.Follow && !opts.Previous {
		containerID = k.runningContainerID(pod.UID, container)
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Transfer-Encoding", "chunked")
	logOpts := &logs.LogOptions{TailLines: opts.TailLines, LimitBytes: opts.LimitBytes, Follow: opts.Follow && containerID != "", Timestamp: opts.Timestamps}
	now := time.Now()
	if opts.SinceSeconds != nil {
		logOpts.Since = now.Add(-time.Duration(*opts.SinceSeconds) * time.Second)
	}
	if opts.SinceTime != nil && opts.SinceTime.After(logOpts.Since) {
		logOpts.Since = opts.SinceTime.Time
	}
	if err := logs.ReadLogs(r.Context(), path, containerID, logOpts, runtimeStatus{k: k}, stdout, stderr); err != nil && r.Context().Err() == nil {
		klog.FromContext(r.Context()).V(2).Info("Reading container log failed", "pod", klog.KObj(pod), "container", container, "err", err)
	}
}

func waitingReason(pod *v1.Pod, container string) string {
	for _, list := range [][]v1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range list {
			if cs.Name == container && cs.State.Waiting != nil && cs.State.Waiting.Reason != "" {
				return cs.State.Waiting.Reason
			}
		}
	}
	return "ContainerCreating"
}

// runtimeStatus answers the one CRI question the log reader asks while
// following (is this container still running?) from the agent's own records.
// Any other RuntimeService method would panic on the nil embedded interface;
// ReadLogs calls none.
type runtimeStatus struct {
	internalapi.RuntimeService
	k *nodeKubelet
}

func (s runtimeStatus) ContainerStatus(_ context.Context, id string, _ bool) (*runtimeapi.ContainerStatusResponse, error) {
	state := runtimeapi.ContainerState_CONTAINER_EXITED
	if s.k.isRunning(id) {
		state = runtimeapi.ContainerState_CONTAINER_RUNNING
	}
	return &runtimeapi.ContainerStatusResponse{Status: &runtimeapi.ContainerStatus{Id: id, State: state}}, nil
}

// flushWriter flushes after each write so followed lines reach the API
// server (and kubectl) as they are read, like the kubelet's flushwriter.
type flushWriter struct {
	w io.Writer
	f http.Flusher
}

func (fw *flushWriter) Write(p []byte) (int, error) {
	n, err := fw.w.Write(p)
	if fw.f != nil {
		fw.f.Flush()
	}
	return n, err
}
