package nodeagent

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
)

// nodeKubelet is the emulated kubelet of one node.
type nodeKubelet struct {
	spec        NodeSpec
	cfg         Config
	lay         layout
	client      kubernetes.Interface
	serviceEnv  map[string]string
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	volumes     *volumeHost
	podLister   corelisters.PodLister

	mu       sync.Mutex
	workers  map[types.UID]*podWorker
	finished map[types.UID]bool // pods whose deletion was confirmed: never run again
	stopping bool
	wg       sync.WaitGroup

	// running maps the containerID of each running instance to true; the
	// log server asks it whether a followed container still runs.
	running sync.Map

	// imagesMu guards the node's image store (node_images.go); imagesSync
	// asks the status loop to post status.images now.
	imagesMu   sync.Mutex
	imagesSync chan struct{}
}

func newNodeKubelet(cfg Config, lay layout, spec NodeSpec, serviceEnv map[string]string) (*nodeKubelet, error) {
	broadcaster := record.NewBroadcaster()
	k := &nodeKubelet{
		spec:        spec,
		cfg:         cfg,
		lay:         lay,
		client:      cfg.Client,
		serviceEnv:  serviceEnv,
		broadcaster: broadcaster,
		recorder:    broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "kubelet", Host: spec.Name}),
		workers:     map[types.UID]*podWorker{},
		finished:    map[types.UID]bool{},
		imagesSync:  make(chan struct{}, 1),
	}
	k.volumes = &volumeHost{
		client:       cfg.Client,
		objects:      clientObjects{cfg.Client},
		dockerSock:   cfg.DockerSock,
		windows:      spec.OS == "windows",
		pipesDir:     lay.pipesDir(spec.Name),
		hostPathRoot: lay.hostPathRoot(spec.Name),
		envCtx:       k.envContext(),
	}
	return k, nil
}

// engineSocket is where the node's Docker engine listens: the bed dockerd on
// a Linux node; on a Windows node the socket standing in for the pipe
// \\.\pipe\docker_engine, served only while the node's (emulated) dockerd
// runs, as on a real Windows node.
func (k *nodeKubelet) engineSocket() string {
	if k.spec.OS == "windows" {
		return filepath.Join(k.lay.pipesDir(k.spec.Name), "docker_engine")
	}
	return k.cfg.DockerSock
}

func (k *nodeKubelet) envContext() envContext {
	return envContext{
		hostIPs:         []string{hostIP},
		podIPs:          []string{podIP},
		nodeAllocatable: nodeCapacity(),
		serviceEnv:      k.serviceEnv,
	}
}

// run registers the node, keeps it Ready, serves its kubelet endpoint and runs
// its pods until ctx ends.
func (k *nodeKubelet) run(ctx context.Context) error {
	logger := klog.FromContext(ctx)
	k.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: k.client.CoreV1().Events("")})
	defer k.broadcaster.Shutdown()

	if err := k.registerNode(ctx); err != nil {
		return err
	}
	srv, err := k.startServer(ctx)
	if err != nil {
		return err
	}
	go k.runLease(ctx)
	go k.runNodeStatusLoop(ctx)

	factory := informers.NewSharedInformerFactoryWithOptions(k.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", k.spec.Name).String()
		}))
	podInformer := factory.Core().V1().Pods()
	k.podLister = podInformer.Lister()
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj interface{}, isInInitialList bool) {
			if pod, ok := obj.(*v1.Pod); ok {
				k.podSeen(ctx, pod, isInInitialList)
			}
		},
		UpdateFunc: func(_, obj interface{}) {
			if pod, ok := obj.(*v1.Pod); ok {
				k.podSeen(ctx, pod, false)
			}
		},
		DeleteFunc: func(obj interface{}) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if pod, ok := obj.(*v1.Pod); ok {
				k.podGone(pod)
			}
		},
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	logger.Info("Node agent running", "port", k.spec.Port, "os", k.spec.OS)

	<-ctx.Done()
	logger.Info("Node agent stopping: log server down, local processes killed, API objects left as they are")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	k.mu.Lock()
	k.stopping = true
	for _, w := range k.workers {
		w.killNow()
	}
	k.mu.Unlock()
	waitTimeout(&k.wg, shutdownTimeout)
	factory.Shutdown()
	return nil
}

// podSeen hands a pod bound to this node to its worker, starting one for a
// pod not seen before. Pods present when the agent starts are recovered
// rather than run again if they had already started.
func (k *nodeKubelet) podSeen(ctx context.Context, pod *v1.Pod, initial bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if w := k.workers[pod.UID]; w != nil {
		w.update(pod)
		return
	}
	if k.stopping || k.finished[pod.UID] {
		return
	}
	w := newPodWorker(k, pod, initial)
	k.workers[pod.UID] = w
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		w.run(klog.NewContext(ctx, klog.FromContext(ctx).WithValues("pod", klog.KObj(pod))))
		k.mu.Lock()
		delete(k.workers, pod.UID)
		if ctx.Err() == nil {
			k.finished[pod.UID] = true
		}
		k.mu.Unlock()
	}()
}

func (k *nodeKubelet) podGone(pod *v1.Pod) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if w := k.workers[pod.UID]; w != nil {
		w.gone()
	}
	k.finished[pod.UID] = true
}

// runningContainerID is the containerID of the instance of a container that
// is running now, or "".
func (k *nodeKubelet) runningContainerID(uid types.UID, container string) string {
	k.mu.Lock()
	w := k.workers[uid]
	k.mu.Unlock()
	if w == nil {
		return ""
	}
	return w.runningContainerID(container)
}

func (k *nodeKubelet) isRunning(containerID string) bool {
	_, ok := k.running.Load(containerID)
	return ok
}

// kubeletVersion is the version of the k8s.io/kubernetes module this binary
// is built from, which is what the bed's control plane runs too.
func kubeletVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "k8s.io/kubernetes" {
				return d.Version
			}
		}
	}
	return "v0.0.0-unknown"
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// clientObjects reads Secrets and ConfigMaps straight from the API server.
type clientObjects struct{ client kubernetes.Interface }

func (c clientObjects) Secret(ctx context.Context, ns, name string) (*v1.Secret, error) {
	return c.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
}

func (c clientObjects) ConfigMap(ctx context.Context, ns, name string) (*v1.ConfigMap, error) {
	return c.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
}

func podRef(pod *v1.Pod) string { return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID) }
