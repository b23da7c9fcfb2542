// Package cgroups places a container's processes in their own cgroup on
// every hierarchy mounted on the host (cgroup v1 controllers, the unified v2
// hierarchy, or both in a hybrid layout), found from mountinfo. It never
// creates directories for controllers that are not mounted.
package cgroups
