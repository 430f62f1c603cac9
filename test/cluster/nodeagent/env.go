package nodeagent

import (
	"context"
	"fmt"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/kubernetes/pkg/api/v1/resource"
	"k8s.io/kubernetes/pkg/fieldpath"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"
)

// objectSource reads the Secrets and ConfigMaps a pod refers to. The kubelet
// reads them through a watch-based cache; the agent reads them directly.
type objectSource interface {
	Secret(ctx context.Context, namespace, name string) (*v1.Secret, error)
	ConfigMap(ctx context.Context, namespace, name string) (*v1.ConfigMap, error)
}

// envContext is what the kubelet knows about the pod's runtime placement when
// it builds a container's environment.
type envContext struct {
	hostIPs         []string
	podIPs          []string
	nodeAllocatable v1.ResourceList
	serviceEnv      map[string]string // KUBERNETES_SERVICE_HOST and friends
}

// resolveEnv builds a container's environment in the order and with the
// semantics of the kubelet's makeEnvironmentVariables
// (pkg/kubelet/kubelet_pods.go): envFrom first, then env entries, each value
// $(VAR)-expanded against what is defined so far and the service variables,
// and service variables last unless the pod defines them. A missing required
// Secret/ConfigMap or key is an error the kubelet reports as
// CreateContainerConfigError and retries.
func resolveEnv(ctx context.Context, pod *v1.Pod, c *v1.Container, src objectSource, ec envContext) ([]v1.EnvVar, error) {
	env := newOrderedEnv()
	configMaps := map[string]*v1.ConfigMap{}
	secrets := map[string]*v1.Secret{}

	getConfigMap := func(name string, optional *bool) (*v1.ConfigMap, error) {
		if cm, ok := configMaps[name]; ok {
			return cm, nil
		}
		cm, err := src.ConfigMap(ctx, pod.Namespace, name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional != nil && *optional {
				return nil, nil
			}
			return nil, err
		}
		configMaps[name] = cm
		return cm, nil
	}
	getSecret := func(name string, optional *bool) (*v1.Secret, error) {
		if s, ok := secrets[name]; ok {
			return s, nil
		}
		s, err := src.Secret(ctx, pod.Namespace, name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional != nil && *optional {
				return nil, nil
			}
			return nil, err
		}
		secrets[name] = s
		return s, nil
	}

	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, err := getConfigMap(from.ConfigMapRef.Name, from.ConfigMapRef.Optional)
			if err != nil {
				return nil, err
			}
			if cm != nil {
				for _, k := range sortedKeys(cm.Data) {
					env.set(from.Prefix+k, cm.Data[k])
				}
			}
		case from.SecretRef != nil:
			s, err := getSecret(from.SecretRef.Name, from.SecretRef.Optional)
			if err != nil {
				return nil, err
			}
			if s != nil {
				for _, k := range sortedKeys(s.Data) {
					env.set(from.Prefix+k, string(s.Data[k]))
				}
			}
		}
	}

	mapping := expansion.MappingFuncFor(env.values, ec.serviceEnv)
	for _, e := range c.Env {
		value := e.Value
		if value != "" {
			value = expansion.Expand(value, mapping)
		} else if e.ValueFrom != nil {
			var skip bool
			var err error
			value, skip, err = valueFrom(pod, c, e.ValueFrom, ec, getConfigMap, getSecret)
			if err != nil {
				return nil, err
			}
			if skip {
				continue
			}
		}
		env.set(e.Name, value)
	}

	for _, k := range sortedKeys(ec.serviceEnv) {
		if _, defined := env.values[k]; !defined {
			env.set(k, ec.serviceEnv[k])
		}
	}
	return env.list(), nil
}

func valueFrom(pod *v1.Pod, c *v1.Container, from *v1.EnvVarSource, ec envContext,
	getConfigMap func(string, *bool) (*v1.ConfigMap, error),
	getSecret func(string, *bool) (*v1.Secret, error),
) (value string, skip bool, err error) {
	switch {
	case from.FieldRef != nil:
		v, err := podFieldValue(pod, from.FieldRef.FieldPath, ec)
		return v, false, err
	case from.ResourceFieldRef != nil:
		v, err := containerResourceValue(pod, c, from.ResourceFieldRef, ec.nodeAllocatable)
		return v, false, err
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		cm, err := getConfigMap(ref.Name, ref.Optional)
		if err != nil {
			return "", false, err
		}
		if cm == nil {
			return "", true, nil
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if optional {
				return "", true, nil
			}
			return "", false, fmt.Errorf("couldn't find key %v in ConfigMap %v/%v", ref.Key, pod.Namespace, ref.Name)
		}
		return v, false, nil
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		s, err := getSecret(ref.Name, ref.Optional)
		if err != nil {
			return "", false, err
		}
		if s == nil {
			return "", true, nil
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if optional {
				return "", true, nil
			}
			return "", false, fmt.Errorf("couldn't find key %v in Secret %v/%v", ref.Key, pod.Namespace, ref.Name)
		}
		return string(v), false, nil
	case from.FileKeyRef != nil:
		return "", false, fmt.Errorf("env %s: valueFrom.fileKeyRef is not supported by the test bed node agent", pod.Name)
	}
	return "", false, nil
}

// podFieldValue answers the downward API field paths the kubelet answers
// itself (node, service account, IPs) and leaves metadata to fieldpath.
func podFieldValue(pod *v1.Pod, path string, ec envContext) (string, error) {
	switch path {
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return first(ec.hostIPs), nil
	case "status.hostIPs":
		return strings.Join(ec.hostIPs, ","), nil
	case "status.podIP":
		return first(ec.podIPs), nil
	case "status.podIPs":
		return strings.Join(ec.podIPs, ","), nil
	}
	return fieldpath.ExtractFieldPathAsString(pod, path)
}

// containerResourceValue defaults unset limits to node allocatable first, as
// the kubelet's defaultPodLimitsForDownwardAPI does.
func containerResourceValue(pod *v1.Pod, c *v1.Container, fs *v1.ResourceFieldSelector, allocatable v1.ResourceList) (string, error) {
	if fs.ContainerName == "" || fs.ContainerName == c.Name {
		defaulted := c.DeepCopy()
		resource.MergeContainerResourceLimits(defaulted, allocatable)
		return resource.ExtractContainerResourceValue(fs, defaulted)
	}
	return resource.ExtractResourceValueByContainerNameAndNodeAllocatable(fs, pod, fs.ContainerName, allocatable)
}

// expandCommand applies $(VAR) expansion to command and args against the
// final environment, as kubecontainer.ExpandContainerCommandAndArgs does.
func expandCommand(c *v1.Container, env []v1.EnvVar) (command, args []string) {
	values := make(map[string]string, len(env))
	for _, e := range env {
		values[e.Name] = e.Value
	}
	mapping := expansion.MappingFuncFor(values)
	for _, s := range c.Command {
		command = append(command, expansion.Expand(s, mapping))
	}
	for _, s := range c.Args {
		args = append(args, expansion.Expand(s, mapping))
	}
	return command, args
}

// orderedEnv keeps first-definition order so the process sees a stable
// environment (the kubelet's map order is random; order carries no meaning).
type orderedEnv struct {
	names  []string
	values map[string]string
}

func newOrderedEnv() *orderedEnv { return &orderedEnv{values: map[string]string{}} }

func (e *orderedEnv) set(name, value string) {
	if _, ok := e.values[name]; !ok {
		e.names = append(e.names, name)
	}
	e.values[name] = value
}

func (e *orderedEnv) list() []v1.EnvVar {
	out := make([]v1.EnvVar, 0, len(e.names))
	for _, n := range e.names {
		out = append(out, v1.EnvVar{Name: n, Value: e.values[n]})
	}
	return out
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// expandWithEnv is $(VAR) expansion against a container's final environment
// (used for subPathExpr, as the kubelet does).
func expandWithEnv(s string, env []v1.EnvVar) string {
	values := make(map[string]string, len(env))
	for _, e := range env {
		values[e.Name] = e.Value
	}
	return expansion.Expand(s, expansion.MappingFuncFor(values))
}
