"""Keep the search index in step with every save of a searchable record or its parts."""

from django.contrib.contenttypes.models import ContentType
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from cases import search
from cases.models import SearchEntry


@receiver(post_save)
def index_on_save(sender, instance, raw=False, **kwargs):
    if sender._meta.app_label == "cases" and not raw:
        record = search.owner(instance)
        if record is not None:
            search.index_record(record)


@receiver(post_delete)
def index_on_delete(sender, instance, **kwargs):
    if sender._meta.app_label != "cases":
        return
    if type(instance) in search.KINDS:
        SearchEntry.objects.filter(content_type=ContentType.objects.get_for_model(instance),
                                   object_id=instance.pk).delete()
    else:
        record = search.owner(instance)
        if record is not None:
            search.index_record(record)
