{{/* Names and labels shared by every template. */}}
{{- define "taskflow.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* <fullname>-<component>, e.g. taskflow-tasks. Call with (dict "root" $ "name" "tasks"). */}}
{{- define "taskflow.componentName" -}}
{{- printf "%s-%s" (include "taskflow.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "taskflow.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "taskflow.labels" -}}
{{ include "taskflow.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: taskflow
{{- end -}}

{{- define "taskflow.image" -}}
{{- $img := .root.Values.image -}}
{{- $repo := printf "%s/svc-%s" $img.repository .name -}}
{{- if $img.registry }}{{ $repo = printf "%s/%s" $img.registry $repo }}{{ end -}}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion $img.tag) -}}
{{- end -}}

{{/* The topic names the services use (schemas/src/topics.rs): name -> compacted. */}}
{{- define "taskflow.topics" -}}
taskflow.tasks.requests.v1: false
taskflow.execution.lifecycle.v1: false
taskflow.scheduler.triggers.v1: false
taskflow.tenants.keys.v1: true
taskflow.tasks.state.v1: true
taskflow.schedules.lifecycle.v1: false
taskflow.schedules.state.v1: true
{{- end -}}
