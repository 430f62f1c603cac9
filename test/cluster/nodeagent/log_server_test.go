package nodeagent

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func logServerFixture(t *testing.T) (*nodeKubelet, *httptest.Server, *v1.Pod) {
	t.Helper()
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "uid-1"},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c"}, {Name: "later"}}},
		Status: v1.PodStatus{ContainerStatuses: []v1.ContainerStatus{
			{Name: "later", State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "PodInitializing"}}},
		}},
	}
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	indexer.Add(pod)
	k := &nodeKubelet{lay: layout{dir: t.TempDir()}, podLister: corelisters.NewPodLister(indexer), workers: map[types.UID]*podWorker{}}
	dirs := k.lay.pod(pod.UID)
	os.MkdirAll(dirs.logsDir(), 0o755)
	srv := httptest.NewServer(k.kubeletAPI())
	t.Cleanup(srv.Close)
	return k, srv, pod
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestContainerLogsEndpoint(t *testing.T) {
	k, srv, pod := logServerFixture(t)
	dirs := k.lay.pod(pod.UID)
	l, _ := openCRILog(dirs.log("c"))
	l.copyStream("stdout", strings.NewReader("one\ntwo\nthree\n"))
	l.Close()
	base := srv.URL + "/containerLogs/ns/p/"

	for _, tc := range []struct {
		path, want string
		code       int
	}{
		{"c", "one\ntwo\nthree\n", 200},
		{"c?tailLines=1", "three\n", 200},
		{"c?tail=all", "one\ntwo\nthree\n", 200},
		{"c?limitBytes=5", "one\nt", 200},
		{"c?stream=Stderr", "", 200},
		{"c?tailLines=-1", `{"message": "Invalid request."}` + "\n", 422},
		{"c?previous=true", `previous terminated container "c" in pod "p" not found` + "\n", 400},
		{"later", `container "later" in pod "p" is waiting to start: PodInitializing` + "\n", 400},
		{"nope", `container "nope" not found in pod "p"` + "\n", 404},
	} {
		code, body := get(t, base+tc.path)
		if code != tc.code || body != tc.want {
			t.Errorf("GET %s = %d %q, want %d %q", tc.path, code, body, tc.code, tc.want)
		}
	}
	if code, body := get(t, base+"c?timestamps=true&tailLines=1"); code != 200 || !strings.HasSuffix(body, "Z three\n") {
		t.Errorf("timestamps = %d %q", code, body)
	}
	if code, _ := get(t, srv.URL+"/containerLogs/ns/absent/c"); code != 404 {
		t.Errorf("absent pod = %d", code)
	}
	if code, body := get(t, srv.URL+"/healthz"); code != 200 || body != "ok" {
		t.Errorf("healthz = %d %q", code, body)
	}
	if code, _ := get(t, srv.URL+"/exec/ns/p/c"); code != http.StatusNotImplemented {
		t.Errorf("exec = %d", code)
	}
}

func TestContainerLogsFollowStreamsUntilExit(t *testing.T) {
	k, srv, pod := logServerFixture(t)
	dirs := k.lay.pod(pod.UID)
	w := newPodWorker(k, pod, false)
	w.runIDs["c"] = "emulated://run1"
	k.workers[pod.UID] = w
	k.running.Store("emulated://run1", true)
	l, _ := openCRILog(dirs.log("c"))
	l.copyStream("stdout", strings.NewReader("first\n"))

	resp, err := http.Get(srv.URL + "/containerLogs/ns/p/c?follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-lines:
			if got != want {
				t.Fatalf("line = %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no line %q while following", want)
		}
	}
	expect("first")
	l.copyStream("stdout", strings.NewReader("second\n"))
	expect("second") // streamed while the container runs
	k.running.Delete("emulated://run1")
	l.copyStream("stdout", strings.NewReader("last\n"))
	l.Close()
	expect("last")
	select {
	case _, open := <-lines:
		if open {
			t.Error("more output after the container exited")
		}
	case <-time.After(5 * time.Second):
		t.Error("follow did not end after the container exited")
	}
}
