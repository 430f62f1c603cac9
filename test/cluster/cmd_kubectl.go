package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/plugin"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

func init() {
	register("kubectl", "run upstream kubectl (also when this binary is invoked as `kubectl`)", runKubectl)
}

// runKubectl mirrors upstream cmd/kubectl/kubectl.go, with the arguments
// passed in rather than read from os.Args (which hold our subcommand name).
func runKubectl(args []string) error {
	argv := append([]string{"kubectl"}, args...)
	// Upstream sets verbosity before the command is built so that building
	// it (kuberc, plugins) already logs at the requested level.
	_, _ = logs.GlogSetter(cmd.GetLogVerbosity(argv))
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	command := cmd.NewDefaultKubectlCommandWithArgs(cmd.KubectlOptions{
		PluginHandler: cmd.NewDefaultPluginHandler(plugin.ValidPluginFilenamePrefixes),
		Arguments:     argv,
		ConfigFlags: genericclioptions.NewConfigFlags(true).WithDeprecatedPasswordFlag().
			WithDiscoveryBurst(300).WithDiscoveryQPS(50.0).WithWarningPrinter(streams),
		IOStreams: streams,
	})
	command.SetArgs(args)
	if err := cli.RunNoErrOutput(command); err != nil {
		// CheckErr prints kubectl's own error format and exits with
		// kubectl's exit codes, which tests may assert on.
		cmdutil.CheckErr(err)
	}
	return nil
}
